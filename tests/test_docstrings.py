"""Every parameter of every public class the provider registers with Airflow is documented.

The modules are those ``get_provider_info()`` lists (the hooks, operators, sensors and triggers, and the
modules of the notifier and the extra links). A class's parameters are those of the ``__init__`` it
defines itself (without ``self``, ``*args`` and ``**kwargs``): what a subclass passes on through
``**kwargs`` is documented on the base that takes it. Each must appear in the class's docstring as a
Sphinx field, ``:param <name>:``.
"""

from __future__ import annotations

import importlib
import inspect
import re
from types import ModuleType

from airflow_modelreg.get_provider_info import get_provider_info


def registered_modules() -> list[ModuleType]:
    info = get_provider_info()
    names = [
        module
        for kind in ("hooks", "operators", "sensors", "triggers")
        for entry in info.get(kind, [])
        for module in entry["python-modules"]
    ]
    names += [
        dotted.rpartition(".")[0] for dotted in info.get("notifications", []) + info.get("extra-links", [])
    ]
    return [importlib.import_module(name) for name in dict.fromkeys(names)]


def public_classes(module: ModuleType) -> list[type]:
    """The classes ``module`` defines (not those it imports), whose names do not start with ``_``."""
    return [
        cls
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and cls.__module__ == module.__name__ and not name.startswith("_")
    ]


def own_parameters(cls: type) -> list[str]:
    """The named parameters of the ``__init__`` ``cls`` defines itself; none when it inherits one."""
    init = vars(cls).get("__init__")
    if init is None:
        return []
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    params = list(inspect.signature(init).parameters.values())[1:]  # without self
    return [p.name for p in params if p.kind not in skip]


def documented_parameters(cls: type) -> set[str]:
    return set(re.findall(r":param\s+(?:[^:\s]+\s+)?(\w+)\s*:", inspect.getdoc(cls) or ""))


def test_registered_modules_and_classes_are_found():
    modules = {module.__name__ for module in registered_modules()}
    assert "airflow_modelreg.operators.deploy" in modules
    assert "airflow_modelreg.notifications.email" in modules
    assert "airflow_modelreg.links.model_registry" in modules
    classes = {cls.__name__ for module in registered_modules() for cls in public_classes(module)}
    assert {"DeployModelOperator", "ModelApprovalEmailNotifier", "EndpointLink"} <= classes
    assert "AwsBaseOperator" not in classes  # imported, not defined there


def test_own_parameters_leave_out_self_and_variadics():
    class Example:
        def __init__(self, first, *args, second=1, **kwargs):
            pass

    class Inheriting(Example):
        pass

    assert own_parameters(Example) == ["first", "second"]
    assert own_parameters(Inheriting) == []


def test_every_parameter_of_every_registered_class_is_documented():
    missing = [
        f"{module.__name__}.{cls.__name__}.{param}"
        for module in registered_modules()
        for cls in public_classes(module)
        for param in own_parameters(cls)
        if param not in documented_parameters(cls)
    ]
    assert not missing, f"{len(missing)} parameters without a ':param name:' line:\n" + "\n".join(missing)
