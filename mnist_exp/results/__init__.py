"""What runs leave behind: the metric vocabulary, atomic files, figures, console text.
Imports nothing of the other stages."""
