"""Exercise checkers, one module per chapter; each ``check_*`` returns a :class:`Verdict`."""
from mmlens.exercises._check import Verdict
from mmlens.exercises.vectors import check_linear_to_conv, check_patchify
from mmlens.exercises.world import check_colour_frequencies, check_count_objects, check_relation

__all__ = ["Verdict", "check_patchify", "check_linear_to_conv", "check_count_objects", "check_relation",
           "check_colour_frequencies"]
