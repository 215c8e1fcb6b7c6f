"""The plan caches: a document is compiled once however often it comes (a document left to the
resolvers too), and the cache holds at most its size, dropping the least recently used."""

from __future__ import annotations

from schema.plan.cache import PlanCache


def test_a_plan_is_compiled_once_and_the_least_recently_used_goes_first() -> None:
    compiled: list[str] = []

    def compile(query: str, name: str | None) -> str | None:
        compiled.append(query)
        return None if query.startswith("mutation") else query.upper()

    cache: PlanCache[str | None] = PlanCache(size=2)
    assert cache.get("{ a }", None, compile) == "{ A }"
    assert cache.get("mutation { b }", None, compile) is None
    assert cache.get("{ a }", None, compile) == "{ A }"  # a hit, and now the most recent
    assert cache.get("mutation { b }", None, compile) is None  # None is kept too
    assert compiled == ["{ a }", "mutation { b }"]
    cache.get("{ c }", "C", compile)  # over the size: "{ a }" was used before "mutation { b }"
    assert len(cache) == 2
    cache.get("{ a }", None, compile)
    assert compiled == ["{ a }", "mutation { b }", "{ c }", "{ a }"]
