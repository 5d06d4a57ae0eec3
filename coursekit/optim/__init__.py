"""From-scratch optimisers for the course, written to be read top to bottom.

Every class is a ``torch.optim.Optimizer``: parameter groups, ``zero_grad``,
``state_dict``/``load_state_dict`` and learning-rate schedulers work as with ``torch.optim``.
Each has one plain single-tensor code path and a docstring with its update equations.
Where ``torch.optim`` has the same algorithm (SGD, AdaGrad, RMSProp, Adam, AdamW) the
updates match it up to rounding; ``tests/test_optim.py`` checks that to 1e-10 in float64.

    from coursekit import optim
    opt = optim.Adam(model.parameters(), lr=1e-3)
"""

from coursekit.optim.adaptive import AdaGrad, Adam, AdamW, RMSProp
from coursekit.optim.ftrl import FTRL
from coursekit.optim.layerwise import LAMB, LARS
from coursekit.optim.lookahead import Lookahead
from coursekit.optim.newton import Newton, newton_step
from coursekit.optim.sgd import SGD

__all__ = [
    "FTRL",
    "LAMB",
    "LARS",
    "SGD",
    "AdaGrad",
    "Adam",
    "AdamW",
    "Lookahead",
    "Newton",
    "RMSProp",
    "newton_step",
]
