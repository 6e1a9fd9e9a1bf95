"""The models' contracts, one module per model: tensor names, label order, input size and pre-processing.

Shared by the model services, training, export (`models/<name>/config.pbtxt`) and evaluation, so that none of
them imports another's internals and train and serve cannot drift apart (STYLE.md 7).
"""
