"""The providers, by name, imported only when one is used.

Each cloud SDK takes seconds to import; naming a module here instead of
importing it keeps `flotilla --help` and the other providers fast.
"""

import importlib

_PROVIDERS = {
    "local": "provisioners.providers.local:LocalProvider",
    "baremetal": "provisioners.providers.baremetal:BareMetalProvider",
    "aws": "provisioners.providers.aws:AwsProvider",
    "gcp": "provisioners.providers.gcp:GcpProvider",
    "azure": "provisioners.providers.azure:AzureProvider",
}

NAMES = tuple(_PROVIDERS)


def provider_class(name):
    module, _, attr = _PROVIDERS[name].partition(":")
    return getattr(importlib.import_module(module), attr)
