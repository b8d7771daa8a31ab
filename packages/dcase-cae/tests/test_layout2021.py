"""The DCASE 2021-2025 layout: sections, domains and attributes from names and attributes_XX.csv; every
name or attributes file that does not fit is one error naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dcase_cae.data import LAYOUT_2021, list_clips, parse_name, read_attributes
from dcase_cae.generator import GeneratorConfig, generate
from sigzoo_shared import DataError

GEN = GeneratorConfig(
    machine_types=("ToyThing",),
    machine_ids=("00",),
    n_train=4,
    n_train_target=2,
    n_test_normal=2,
    n_test_anomaly=2,
    duration_s=1.0,
    layout="dcase2021",
)


@pytest.fixture(scope="module")
def data2021(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("l2021") / "data", GEN) / "ToyThing"


def _copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / src.name))


def test_dev_names_give_section_domain_label_and_attributes() -> None:
    clip = parse_name(
        Path("section_00_source_test_anomaly_0001_car_B1_spd_31V_mic_1.wav"), "ToyCar"
    )
    assert (clip.layout, clip.machine_id, clip.domain, clip.label) == (
        LAYOUT_2021,
        "00",
        "source",
        1,
    )
    assert clip.attributes == "car_B1_spd_31V_mic_1"
    clip = parse_name(
        Path("section_03_target_train_normal_0009.flac"), "fan"
    )  # 2021: no attributes
    assert (clip.machine_id, clip.domain, clip.label, clip.attributes) == ("03", "target", 0, "")


def test_evaluation_names_have_no_domain_and_no_label() -> None:
    clip = parse_name(Path("section_00_0042.wav"), "ToyCar")
    assert (clip.machine_id, clip.domain, clip.label) == ("00", None, None)


def test_a_name_in_neither_layout_is_an_error_naming_it() -> None:
    with pytest.raises(DataError, match=r"recording_7\.wav: file name fits neither DCASE layout"):
        parse_name(Path("/x/train/recording_7.wav"), "fan")


def test_a_folder_mixing_layouts_is_an_error(data2021: Path, tmp_path: Path) -> None:
    root = _copy(data2021, tmp_path)
    shutil.copy(next((root / "train").glob("*.wav")), root / "train" / "normal_id_00_00000001.wav")
    with pytest.raises(DataError, match=r"normal_id_00_00000001\.wav: dcase2020 file name among"):
        list_clips(root, "train", "ToyThing")


def test_attributes_come_from_the_csv_and_match_the_names(data2021: Path) -> None:
    table = read_attributes(data2021)
    clips = list_clips(data2021, "train", "ToyThing")
    assert len(clips) == 6 and {c.domain for c in clips} == {"source", "target"}
    assert all(table[c.path.stem] == c.attributes for c in clips)
    assert {c.attributes for c in clips} == {"spd_A", "spd_B", "spd_C"}


def test_attributes_only_in_the_csv_are_used(data2021: Path, tmp_path: Path) -> None:
    """Names without attributes (the 2021 style) take them from attributes_XX.csv."""
    root = _copy(data2021, tmp_path)
    old = next((root / "train").glob("*source_train_normal_0001_spd_B.wav"))
    old.rename(old.with_name("section_00_source_train_normal_0001.wav"))
    csv = root / "attributes_00.csv"
    csv.write_text(csv.read_text().replace("normal_0001_spd_B.wav", "normal_0001.wav"))
    clip = next(c for c in list_clips(root, "train", "ToyThing") if c.path.stem.endswith("0001"))
    assert clip.attributes == "spd_B"


def test_an_attributes_file_that_disagrees_with_a_name_is_an_error(
    data2021: Path, tmp_path: Path
) -> None:
    root = _copy(data2021, tmp_path)
    csv = root / "attributes_00.csv"
    lines = csv.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",Z"
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"attributes_00\.csv: .* has attributes 'spd_Z' there"):
        list_clips(root, "train", "ToyThing")


def test_an_attributes_file_without_pairs_is_an_error(data2021: Path, tmp_path: Path) -> None:
    root = _copy(data2021, tmp_path)
    (root / "attributes_00.csv").write_text("name,a\nx.wav,1\n")
    with pytest.raises(DataError, match=r"attributes_00\.csv: expected a header"):
        list_clips(root, "train", "ToyThing")
    (root / "attributes_00.csv").write_text("file_name,d1p\nx.wav,car\n")
    with pytest.raises(DataError, match=r"attributes_00\.csv: line 2: 1 attribute fields"):
        list_clips(root, "train", "ToyThing")
