"""mnist-exp: train, compare and sweep Keras networks on MNIST-style data.

A subpackage per stage; imports point one way, down this list:

    app        the commands: mnist-exp, mnist-exp-report, mnist-exp-predict
    sweeps     a sweep's summary and the Hydra callbacks around runs and sweeps
    predict    image files in, a trained model's classes out
    training   a run's steps, its loops and callbacks (training/callbacks/)
    models     model families, models on disk
    data       data sets: sources, checks, splits, labels
    config     the typed schemas of every config group
    results    the metric vocabulary, atomic files, figures, console text
    errors.py  the errors a user can fix, as one line each
"""

__version__ = "0.1.0"
