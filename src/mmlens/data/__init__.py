"""The synthetic multimodal world: scenes, images, captions, questions, tokens, datasets.

>>> from mmlens.data import make_scene, make_caption, caption_is_true
>>> scene = make_scene(0, n_objects=2)
>>> caption_is_true(make_caption(scene, kind="relation"), scene)
True

Modules: :mod:`~mmlens.data.world` (objects, knobs, sampling, splits), :mod:`~mmlens.data.render`,
:mod:`~mmlens.data.grammar` (words and parser), :mod:`~mmlens.data.captions`,
:mod:`~mmlens.data.checker`, :mod:`~mmlens.data.negatives`, :mod:`~mmlens.data.questions`,
:mod:`~mmlens.data.tokenizer`, :mod:`~mmlens.data.dataset` (torch), :mod:`~mmlens.data.photos`.
"""
from mmlens.data.captions import CAPTION_KINDS, class_captions, class_prompts, make_caption, make_captions
from mmlens.data.checker import caption_is_true, check_caption
from mmlens.data.grammar import CaptionParseError, parse_caption
from mmlens.data.negatives import NEGATIVE_KINDS, make_hard_negatives
from mmlens.data.photos import load_sample_photos
from mmlens.data.questions import ANSWERS, QUESTION_KINDS, Question, answer_question, make_questions
from mmlens.data.render import RenderedScene, render_image, render_scene
from mmlens.data.tokenizer import VOCAB, WordTokenizer
from mmlens.data.world import (
    COLOUR_RGB,
    COLOURS,
    RELATIONS,
    SHAPES,
    SIZE_RADIUS,
    SIZES,
    SPLITS,
    Scene,
    SceneObject,
    WorldConfig,
    colour_distribution,
    make_scene,
    make_scenes,
    relation_holds,
)


def __getattr__(name):  # torch loads only when the Dataset is used
    if name in ("SceneDataset", "collate_scenes"):
        from mmlens.data import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'mmlens.data' has no attribute {name!r}")


__all__ = [
    "SHAPES", "COLOURS", "SIZES", "RELATIONS", "SPLITS", "COLOUR_RGB", "SIZE_RADIUS",
    "SceneObject", "Scene", "WorldConfig", "make_scene", "make_scenes", "relation_holds", "colour_distribution",
    "RenderedScene", "render_scene", "render_image",
    "CAPTION_KINDS", "make_caption", "make_captions", "class_prompts", "class_captions",
    "caption_is_true", "check_caption", "parse_caption", "CaptionParseError",
    "NEGATIVE_KINDS", "make_hard_negatives",
    "ANSWERS", "QUESTION_KINDS", "Question", "make_questions", "answer_question",
    "VOCAB", "WordTokenizer", "SceneDataset", "collate_scenes", "load_sample_photos",
]
