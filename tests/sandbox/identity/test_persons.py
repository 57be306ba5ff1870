"""People: one unionid, one openid per app, found both ways, deterministic from the seed."""

from __future__ import annotations

import random

import pytest

from paydesk.sandbox.identity.persons import (
    ID_LENGTH,
    OPENID_ALPHABET,
    PersonBook,
    app_prefix,
    is_plausible_openid,
)

APPS = ("wx5a0d5a0d00000001", "wx5a0d5a0d00000002")


def book(seed: int = 1) -> PersonBook:
    return PersonBook(random.Random(seed), APPS)


def test_a_person_has_one_unionid_and_an_openid_per_app_shaped_like_wechats() -> None:
    person = book().create()
    assert len(person.unionid) == ID_LENGTH
    assert person.unionid.startswith("o")
    assert set(person.openids) == set(APPS)
    for appid, openid in person.openids.items():
        assert len(openid) == ID_LENGTH
        assert openid.startswith(app_prefix(appid))
        assert set(openid) <= set(OPENID_ALPHABET)
    assert len(set(person.openids.values())) == len(APPS)
    assert person.nickname.startswith("沙箱用户 ")


def test_openids_of_one_app_share_a_prefix_like_real_ones() -> None:
    people = [book(seed).create() for seed in range(5)]
    prefixes = {p.openid_for(APPS[0])[:6] for p in people}
    assert prefixes == {app_prefix(APPS[0])}
    assert app_prefix(APPS[0]) != app_prefix(APPS[1])


def test_everyone_is_found_by_unionid_and_by_openid_in_each_app() -> None:
    people = book()
    person = people.create()
    assert people.by_unionid(person.unionid) is person
    assert people.person(person.unionid) is person
    for appid, openid in person.openids.items():
        assert people.by_openid(appid, openid) is person
        assert people.find_openid(openid) is person
    assert people.by_openid(APPS[1], person.openid_for(APPS[0])) is None
    assert people.by_unionid("o-nobody") is None
    assert people.find_openid("o-nobody") is None
    assert people.all() == [person]
    assert len(people) == 1


def test_get_or_create_keeps_a_caller_chosen_openid_and_finds_it_again() -> None:
    people = book()
    chosen = people.get_or_create(APPS[0], "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    assert chosen.openid_for(APPS[0]) == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    assert people.get_or_create(APPS[0], "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o") is chosen
    fresh = people.get_or_create(APPS[0], None)
    assert fresh is not chosen
    assert len(people) == 2


def test_the_same_seed_makes_the_same_people_and_reset_forgets_them() -> None:
    assert book(9).create() == book(9).create()
    assert book(9).create() != book(10).create()
    people = book()
    person = people.create()
    people.reset()
    assert len(people) == 0
    assert people.by_unionid(person.unionid) is None
    assert people.find_openid(person.openid_for(APPS[0])) is None


def test_view_is_plain_json() -> None:
    person = book().create()
    assert person.view() == {
        "unionid": person.unionid,
        "openids": dict(person.openids),
        "nickname": person.nickname,
    }


@pytest.mark.parametrize(
    ("value", "plausible"),
    [
        ("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", True),
        ("o-1", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("", False),
        ("o 1", False),
        ("o/1", False),
        ("o\u00e91", False),
    ],
)
def test_plausible_openids(value: str, plausible: bool) -> None:
    assert is_plausible_openid(value) is plausible
