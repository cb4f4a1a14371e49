"""``SaverConformance``: subclass it, give a ``saver`` fixture, get the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from _pytest.fixtures import FixtureFunctionDefinition

from checkpointkit.conformance.capabilities import Capabilities
from checkpointkit.conformance.driver import LoopThread, SaverDriver
from checkpointkit.conformance.factories import SaverFactory, ThreadWriter
from checkpointkit.conformance.requirements import load_requirements
from checkpointkit.conformance.suite import ALL_SUITES

__all__ = ["SaverConformance"]

_OVERRIDABLE_FIXTURES = ("saver", "async_saver", "saver_factory")


class SaverConformance(*ALL_SUITES):  # type: ignore[misc]
    """The conformance suite as a base class (fsspec/zarr style).

    Fixtures a subclass must give: ``saver``. May give: ``async_saver`` (defaults to the
    ``saver`` object; may return an async context manager) and ``saver_factory`` (needed
    for the ``persistent`` capability). Class attributes: ``capabilities``,
    ``known_failures`` (spec ID -> reason or link; applied as strict xfail) and
    ``saver_name`` (shown in every test id; defaults to the class name).
    """

    capabilities: ClassVar[Capabilities] = Capabilities()
    known_failures: ClassVar[dict[str, str]] = {}
    saver_name: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.capabilities, Capabilities):
            raise TypeError(f"{cls.__name__}.capabilities must be a Capabilities instance")
        for name in _OVERRIDABLE_FIXTURES:
            attr = cls.__dict__.get(name)
            if attr is not None and not isinstance(attr, FixtureFunctionDefinition):
                raise TypeError(
                    f"{cls.__name__}.{name} must be a @pytest.fixture; a plain method would "
                    "hide the fixture"
                )
        known = load_requirements()
        for rid, reason in cls.known_failures.items():
            if rid not in known:
                raise ValueError(f"{cls.__name__}.known_failures names unknown spec ID {rid!r}")
            if not isinstance(reason, str) or not reason.strip():
                raise ValueError(f"{cls.__name__}.known_failures[{rid!r}] needs a reason")
        if cls.__name__.startswith("Test") and "saver" not in _fixture_names(cls):
            raise TypeError(f"{cls.__name__} must override the `saver` fixture")

    @classmethod
    def display_name(cls) -> str:
        if cls.saver_name:
            return cls.saver_name
        name = cls.__name__
        return name[4:] if name.startswith("Test") and len(name) > 4 else name

    # -- fixtures a subclass gives -------------------------------------------------------
    @pytest.fixture
    def saver(self) -> Any:
        pytest.fail(f"{type(self).__name__} must override the `saver` fixture")

    @pytest.fixture
    def async_saver(self, saver: Any) -> Any:
        return saver

    @pytest.fixture
    def saver_factory(self) -> SaverFactory:
        pytest.fail(
            f"{type(self).__name__} declares persistent=True but gives no `saver_factory` fixture"
        )

    # -- fixtures the suite uses ----------------------------------------------------------
    @pytest.fixture(autouse=True)
    def ck_saver_name(self, request: pytest.FixtureRequest) -> str:
        return str(getattr(request, "param", type(self).display_name()))

    @pytest.fixture
    def flavor(self, request: pytest.FixtureRequest) -> str:
        return str(getattr(request, "param", "sync"))

    @pytest.fixture
    def loop_thread(self) -> Iterator[LoopThread]:
        loop = LoopThread()
        yield loop
        loop.close()

    @pytest.fixture
    def driver(self, request: pytest.FixtureRequest, flavor: str) -> Iterator[SaverDriver]:
        if flavor == "sync":
            yield SaverDriver(request.getfixturevalue("saver"), "sync")
            return
        loop: LoopThread = request.getfixturevalue("loop_thread")
        made = request.getfixturevalue("async_saver")
        if hasattr(made, "__aenter__") and not hasattr(made, "aput"):
            saver = loop.run(made.__aenter__())
            try:
                yield SaverDriver(saver, "async", loop)
            finally:
                loop.run(made.__aexit__(None, None, None))
        else:
            yield SaverDriver(made, "async", loop)

    @pytest.fixture
    def writer(self, driver: SaverDriver) -> ThreadWriter:
        """A fresh thread in the root namespace."""
        return ThreadWriter(driver)


def _fixture_names(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is SaverConformance:
            break
        for name, attr in vars(klass).items():
            if isinstance(attr, FixtureFunctionDefinition):
                names.add(name)
    return names
