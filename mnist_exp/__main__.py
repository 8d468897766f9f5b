from mnist_exp.app.cli import main

main()
