from rag.documents import Document
from rag.regions import ROWS, Region, location, regions_from_json, row_line


def test_row_line_names_every_cell_by_its_header():
    assert row_line(12, [("Region", "Kanto"), ("Tonnes", "1,250"), ("Year", "2024")]) == \
        "Row 12: Region: Kanto; Tonnes: 1,250; Year: 2024"


def test_regions_round_trip_through_json():
    regions = (Region(0, "Intro"), Region(40, "Sheet1", ROWS))
    assert regions_from_json([r.to_json() for r in regions]) == regions
    assert regions_from_json(None) == ()


def test_location_of_rows_reads_the_row_numbers_in_the_quote():
    text = "Row 2: Region: Kanto; Tonnes: 5\nRow 3: Region: Kyushu; Tonnes: 7\nRow 9: Region: Tohoku; Tonnes: 1\n"
    regions = (Region(0, "Sheet1", ROWS),)
    second = text.index("Row 3")
    end = text.index("\n", second)
    assert location(regions, (), second, end, text[second:end]) == "Sheet1, row 3"
    assert location(regions, (), 0, len(text), text) == "Sheet1, rows 2–9"
    # A quote that starts inside a row names the row its line starts with.
    inner = text.index("Tonnes: 7")
    assert location(regions, (), inner, end, text[inner:end], text[second:inner]) == "Sheet1, row 3"
    # A CSV's one region has no name: only the row is said.
    assert location((Region(0, "", ROWS),), (), second, end, text[second:end]) == "row 3"


def test_location_names_the_region_holding_the_span_and_the_page():
    regions = (Region(0, "Setup"), Region(10, "Setup › Linux"), Region(30, "Usage"))
    assert location(regions, (), 12, 20) == "Setup › Linux"
    assert location(regions, (), 12, 35) == "Setup › Linux – Usage"
    assert location(regions, (0, 25), 26, 28) == "page 2, Setup › Linux"
    assert location((), (0, 25), 20, 28) == "pages 1–2"
    assert location((), (), 3, 9) == ""
    assert location((Region(5, "Later"),), (), 0, 3) == ""     # before the first region: no name


def test_a_document_names_where_a_span_is():
    text = "Row 2: Name: Ada\nRow 4: Name: Grace\n"
    doc = Document("people.csv", text, "0" * 64, regions=(Region(0, "", ROWS),))
    start = text.index("Grace")
    assert doc.location(start, start + 5) == "row 4"
