from mnist_exp.cli import main

main()
