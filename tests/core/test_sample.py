"""Which files a timed sample takes (batchmill.core.sample.SamplePicker): the smallest, the one a
quarter up and the median by size, from a reservoir that stays bounded however many files pass."""

from __future__ import annotations

from batchmill.core.sample import RESERVOIR, SamplePicker


def test_the_picks_are_the_smallest_the_quarter_and_the_median() -> None:
    picker = SamplePicker(seed=1)
    for n in (9, 3, 7, 1, 5, 11, 2, 8):  # sizes in any order
        picker.add(f"/in/f{n}", f"/out/f{n}", n * 100)
    picker.add("/in/unmeasured", None, -1)  # a size the preview could not take: never sampled

    assert [(c.src, c.size) for c in picker.picks()] == [("/in/f1", 100), ("/in/f3", 300), ("/in/f7", 700)]


def test_few_files_give_fewer_picks_and_none_give_none() -> None:
    picker = SamplePicker()
    assert picker.picks() == []
    picker.add("/in/only", "/out/only", 10)
    assert [c.src for c in picker.picks()] == ["/in/only"]


def test_the_reservoir_stays_bounded() -> None:
    picker = SamplePicker(seed=2)
    for n in range(RESERVOIR * 20):
        picker.add(f"/in/{n}", None, n)

    assert len(picker.kept) == RESERVOIR and picker.seen == RESERVOIR * 20
    sizes = [c.size for c in picker.picks()]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    assert RESERVOIR * 5 < sizes[2] < RESERVOIR * 15  # about the median of all, not of the first thousand
