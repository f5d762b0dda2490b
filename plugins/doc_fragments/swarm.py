# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # What every module that talks to the local Docker engine needs.
    DOCUMENTATION = r"""
options: {}
requirements:
  - Docker Engine on the host the module runs on
  - Docker SDK for Python (Debian package C(python3-docker))
"""
