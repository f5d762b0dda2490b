"""The image builder's pure parts: what a recipe's tag is made of, when it is
built, and which recipes are refused before anything is built.

Building for real is proven in tests/e2e/test_images.py (on the host) and
tests/e2e/platform/test_images.py (on a node, through the module).
"""

import os
import shutil
from pathlib import Path

import docker.errors
import pytest
from ansible_collections.flotilla.cluster.plugins.module_utils import images

from provisioners import images as shipped_images
from provisioners.errors import FlotillaError

SHIPPED = Path(__file__).resolve().parents[2] / "images"


@pytest.fixture
def recipe(tmp_path):
    directory = tmp_path / "web"
    shutil.copytree(SHIPPED / "hello", directory)
    return directory


def test_the_tag_is_the_recipes_name_and_hash_in_flotillas_repository(recipe):
    ref = images.recipe_ref(recipe)
    assert ref == f"flotilla/web:{images.recipe_hash(recipe, images.base_hash())}"
    assert images.recipe_ref(recipe, "other").startswith("flotilla/other:")
    assert images.base_ref() == f"flotilla/base:{images.base_hash()}"


def test_the_hash_is_stable_and_covers_every_file_its_path_and_mode(recipe):
    before = images.recipe_hash(recipe, "base1")
    assert images.recipe_hash(recipe, "base1") == before
    assert images.recipe_hash(recipe, "base2") != before, "a new base builds the recipe again"

    (recipe / "hello.py").write_text((recipe / "hello.py").read_text() + "\n")
    changed = images.recipe_hash(recipe, "base1")
    assert changed != before

    os.chmod(recipe / "hello.py", 0o755)
    assert images.recipe_hash(recipe, "base1") != changed

    (recipe / "conf").mkdir()
    (recipe / "conf" / "extra").write_text("x")
    with_file = images.recipe_hash(recipe, "base1")
    (recipe / "conf" / "extra").rename(recipe / "conf" / "other")
    assert images.recipe_hash(recipe, "base1") != with_file, "a renamed file changes the image"


def test_parts_are_delimited():
    assert images.digest("ab", "c") != images.digest("a", "bc")


@pytest.mark.parametrize(
    ("dockerfile", "refused"),
    [
        (None, "holds no Dockerfile"),
        ("FROM debian:bookworm\n", "must begin with `ARG BASE` and `FROM ${BASE}`"),
        ("ARG BASE\nFROM debian\n", "must begin with"),
        ("# comments may come first\n\nARG BASE\nFROM ${BASE}\nRUN true\n", None),
    ],
)
def test_a_recipe_must_build_on_flotillas_base(tmp_path, dockerfile, refused):
    if dockerfile is not None:
        (tmp_path / "Dockerfile").write_text(dockerfile)
    if refused is None:
        images.check_recipe(tmp_path)
    else:
        with pytest.raises(images.ImageError, match=refused.replace("$", r"\$").replace("{", r"\{")):
            images.check_recipe(tmp_path)


def test_no_recipe_takes_the_bases_name(recipe):
    with pytest.raises(images.ImageError, match="cannot be named 'base'"):
        images.recipe_ref(recipe, "base")


class Engine:
    """The two calls the builder makes to decide and to build, recorded."""

    def __init__(self, tags):
        self.tags = set(tags)
        self.builds = []
        self.images = self
        self.api = self

    def get(self, ref):
        if ref not in self.tags:
            raise docker.errors.ImageNotFound(ref)

    def build(self, **arguments):
        self.builds.append(arguments)
        self.tags.add(arguments["tag"])

    # A saved image, as `docker save` streams it: here, its tag in two chunks.
    def get_image(self, ref):
        return [b"saved:", ref.encode()]

    def load(self, archive):
        self.tags.add(archive.read().decode().removeprefix("saved:"))


def test_an_existing_tag_is_not_built_again(recipe):
    ref = images.recipe_ref(recipe)
    engine = Engine({images.base_ref(), ref})
    assert images.build_recipe(engine, recipe) == (ref, False)
    assert engine.builds == []


def test_a_missing_tag_is_built_on_the_base_with_its_hash_as_label(recipe):
    engine = Engine({images.base_ref()})
    ref, built = images.build_recipe(engine, recipe)
    assert built and engine.builds == [
        {
            "path": str(recipe),
            "tag": ref,
            "buildargs": {"BASE": images.base_ref()},
            "labels": {images.RECIPE_LABEL: ref.split(":")[1]},
            "rm": True,
            "forcerm": True,
        }
    ]
    assert images.build_recipe(engine, recipe) == (ref, False)


def test_the_shipped_recipes_are_found_by_name_and_an_unknown_one_refused_before_building():
    assert {"hello", "redis"} <= set(shipped_images.shipped())
    engine = Engine(())
    with pytest.raises(FlotillaError, match="there is no image recipe 'nope': choose from .*hello"):
        shipped_images.build(engine, ["hello", "nope"])
    assert engine.builds == []


EDGE = "flotilla/edge:00112233445566ff"


def test_a_saved_image_replaces_its_other_versions_only(tmp_path):
    others = ["flotilla-edge-0123456789abcdef.tar", "flotilla-edge-watch-0123456789abcdef.tar", "notes.txt"]
    for name in others:
        (tmp_path / name).write_text("")
    path = images.save_archive(Engine({EDGE}), EDGE, tmp_path)
    assert path == str(tmp_path / "flotilla-edge-00112233445566ff.tar")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([Path(path).name, *others[1:]])

    engine = Engine(())
    images.load_archive(engine, EDGE, path)
    assert engine.tags == {EDGE}


def test_an_archive_without_the_image_is_refused_by_name(tmp_path):
    path = images.save_archive(Engine({EDGE}), EDGE, tmp_path)
    with pytest.raises(images.ImageError, match=r"flotilla-edge-00112233445566ff.tar does not hold flotilla/edge:0"):
        images.load_archive(Engine(()), "flotilla/edge:0000000000000000", path)
