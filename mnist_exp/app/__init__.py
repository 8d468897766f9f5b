"""The commands (mnist-exp, mnist-exp-report, mnist-exp-predict): how they start,
read their arguments, print their errors and end."""
