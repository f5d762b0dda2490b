import pytest

from provisioners.spec import SpecError, build_spec, read_spec_file


def problems(data, overrides=None):
    with pytest.raises(SpecError) as failure:
        build_spec(data, overrides)
    return failure.value.problems


def test_defaults_are_a_local_three_master_cluster():
    spec = build_spec({})
    assert (spec.name, spec.provider, spec.masters, spec.agents, spec.public_agents) == ("flotilla", "local", 3, 2, 1)


def test_flags_override_the_file():
    spec = build_spec({"name": "demo", "masters": 5}, {"masters": 1, "agents": None})
    assert (spec.name, spec.masters, spec.agents) == ("demo", 1, 2)


def test_every_problem_is_reported_in_one_sentence_each():
    found = problems({"name": "Bad_Name", "masters": 0, "agents": -1, "colour": "red"})
    assert len(found) == 4
    assert all(p.endswith(".") and "\n" not in p for p in found)
    assert any("unknown key 'colour'" in p for p in found)
    assert any("masters must be between 1" in p for p in found)


def test_an_even_number_of_masters_needs_to_be_meant():
    assert problems({"masters": 4}) == [
        "4 masters tolerate 1 failure, no more than 3 would, since 3 must stay reachable; use an odd number, "
        "or pass --allow-even-masters (allow_even_masters: true) if you mean it."
    ]
    assert build_spec({"masters": 2, "allow_even_masters": True}).masters == 2


def test_names_clouds_reject_are_refused():
    for name in ("9lives", "a", "ends-", "UPPER", "x" * 40, "under_score"):
        assert problems({"name": name})


def test_unknown_provider_and_foreign_sections():
    assert any("unknown provider 'vmware'" in p for p in problems({"provider": "vmware"}))
    assert any("has a 'aws' section" in p for p in problems({"aws": {}}))


def test_unknown_provider_option():
    assert any("unknown option 'colour' in the 'local' section" in p for p in problems({"local": {"colour": 1}}))


def test_spec_file_errors_are_sentences(tmp_path):
    missing = tmp_path / "nope.yml"
    with pytest.raises(SpecError, match="cannot read"):
        read_spec_file(missing)
    bad = tmp_path / "bad.yml"
    bad.write_text("- a list\n")
    with pytest.raises(SpecError, match="must hold a mapping"):
        read_spec_file(bad)


def test_round_trip_through_the_saved_form():
    spec = build_spec({"name": "demo", "masters": 1, "agents": 0})
    assert build_spec(spec.to_dict()) == spec
