"""nncore: a small NumPy neural-network engine whose hot paths stay at the matrix-product floor."""

from nncore.gradcheck import check_layer, check_loss, check_network, numerical_gradient, relative_error
from nncore.init import init_weights
from nncore.layers import Affine, BatchNorm, Dropout, ReLU, Sigmoid, Tanh
from nncore.losses import MeanSquaredError, SoftmaxCrossEntropy
from nncore.network import MLP
from nncore.optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop, make_optimizer

__all__ = [
    "MLP", "Affine", "BatchNorm", "Dropout", "ReLU", "Sigmoid", "Tanh",
    "SoftmaxCrossEntropy", "MeanSquaredError", "init_weights",
    "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "make_optimizer",
    "numerical_gradient", "relative_error", "check_layer", "check_loss", "check_network",
]
