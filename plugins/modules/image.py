#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: image
short_description: Build one of Flotilla's image recipes on the node, from Debian packages
description:
  - Builds the recipe in I(path) (a directory holding a C(Dockerfile) that
    begins C(ARG BASE) / C(FROM ${BASE}), and its files) with the host's
    Docker engine, on Flotilla's base image C(flotilla/base:<hash>), which it
    first builds with C(mmdebstrap --variant=minbase bookworm) and
    C(docker import) when the engine lacks it. No registry is used.
  - The image is tagged C(flotilla/<name>:<hash>), the hash covering the
    recipe's files and the base's hash. An existing tag is never rebuilt,
    so the task changes something only when the recipe (or the base) did.
  - The same builder builds the recipes on the operator's machine
    (C(flotilla image build)), so a recipe has the same tag everywhere.
  - When I(archives) holds the image saved under its tag
    (C(flotilla-<name>-<hash>.tar), from C(docker save)), it is loaded from
    there instead of being built. The local provider hands its machines the
    images it built once on the operator's machine this way.
version_added: 0.3.0
author: Flotilla developers
extends_documentation_fragment:
  - flotilla.cluster.swarm
requirements:
  - mmdebstrap (Debian package C(mmdebstrap)), to build the base
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  path:
    description:
      - The recipe's directory on the node.
    type: path
    required: true
  name:
    description:
      - The image's name, C(flotilla/<name>); the directory's name when omitted.
    type: str
  archives:
    description:
      - A directory on the node of saved images to load instead of building.
        A missing directory, or one without this image, is no error.
    type: path
    default: /var/lib/flotilla/image-archives
"""

EXAMPLES = r"""
- name: Copy the edge's recipe to the node
  ansible.builtin.copy:
    src: "{{ role_path }}/../../images/edge/"
    dest: /var/lib/flotilla/images/edge/
    mode: "0644"

- name: Build the edge's image on the node
  flotilla.cluster.image:
    path: /var/lib/flotilla/images/edge
  register: edge_image

- name: Run it by the reference the build returned
  ansible.builtin.debug:
    msg: "{{ edge_image.image }}"
"""

RETURN = r"""
image:
  description: The image's reference, C(flotilla/<name>:<hash>).
  returned: always
  type: str
  sample: flotilla/edge:3f0c9a1b2d4e5f60
base:
  description: The base image's reference it is built on.
  returned: always
  type: str
  sample: flotilla/base:5b1f0e2a9c8d7e6f
built:
  description: Whether the image was built by this task (would be, in check mode).
  returned: always
  type: bool
loaded:
  description: Whether the image was loaded from I(archives) by this task (would be, in check mode).
  returned: always
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.flotilla.cluster.plugins.module_utils import images


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            name=dict(type="str"),
            archives=dict(type="path", default=images.NODE_ARCHIVES),
        ),
        supports_check_mode=True,
    )
    if not images.HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker (python3-docker)"), exception=str(images.DOCKER_IMPORT_ERROR))
    import docker

    path, name = module.params["path"], module.params["name"]
    try:
        client = docker.from_env(timeout=600)
        ref = images.recipe_ref(path, name)
        archive = images.archive_path(module.params["archives"], ref)
        present = images.exists(client, ref)
        loaded = not present and os.path.isfile(archive)
        if module.check_mode:
            built = not present and not loaded
        else:
            if loaded:
                images.load_archive(client, ref, archive)
            ref, built = images.build_recipe(client, path, name)
    except images.ImageError as err:
        module.fail_json(msg=str(err))
    except docker.errors.DockerException as err:
        module.fail_json(msg=f"the Docker engine on this host does not answer: {err}")
    module.exit_json(changed=built or loaded, built=built, loaded=loaded, image=ref, base=images.base_ref())


if __name__ == "__main__":
    main()
