import io
import tracemalloc
import zipfile

import pytest

from rag.documents import UnreadableDocument, extract, iter_text, probe_text, read_document, read_text, stream_pieces
from rag.sheets import csv_lines

from format_corpus import write_csv, write_ods, write_xlsx


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def test_every_csv_row_is_a_line_that_names_its_cells_by_their_headers(tmp_path):
    doc = read_document(write_csv(tmp_path / "tonnes.csv"), "tonnes.csv")
    assert lines_of(doc.text) == [
        "Row 2: Region: Kanto; Tonnes: 1,250; Year: 2024",
        "Row 3: Region: Kyushu; Tonnes: 870; Year: 2024",
        "Row 5: Region: Hokkaido; Tonnes: 4410; Year: 2023",      # the blank line is row 4
    ]
    start = doc.text.index("Kyushu")
    assert doc.location(start, start + 6) == "row 3"
    assert read_text(tmp_path / "tonnes.csv") == doc.text


@pytest.mark.parametrize("name, text, expected", [
    ("semi.csv", "Name;Score\nAda;7\n", "Row 2: Name: Ada; Score: 7"),
    ("tabs.tsv", "Name\tNote\nAda\tlikes, commas\n", "Row 2: Name: Ada; Note: likes, commas"),
    ("gaps.csv", "Name,Age,Town\nAda,,Leeds\n", "Row 2: Name: Ada; Town: Leeds"),                 # empty cell left out
    ("extra.csv", "Name,Age\nAda,36,Leeds\n", "Row 2: Name: Ada; Age: 36; Column 3: Leeds"),
    ("nohead.csv", "1,2\n3,4\n", "Row 1: Column 1: 1; Column 2: 2"),                       # numbers: no header
    ("multi.csv", 'Name,Note\nAda,"two\r\nlines"\n', "Row 2: Name: Ada; Note: two lines"),
    ("header.csv", "Name,Note,\n", "Row 1: Name; Note"),                                   # no rows yet
])
def test_csv_dialects_and_odd_rows(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    assert lines_of(read_text(path))[0] == expected


def test_a_csv_in_windows_1252_is_decoded(tmp_path):
    path = tmp_path / "cafe.csv"
    path.write_bytes("Name,City\nCafé Noël,Zürich\n".encode("cp1252"))
    assert read_text(path) == "Row 2: Name: Café Noël; City: Zürich\n"


def test_streamed_csv_text_is_the_same_however_it_is_cut(tmp_path):
    text = "".join(f'{i},"note {i}\r\nmore",x{i}\r\n' for i in range(300))
    whole = "".join(csv_lines([text]))
    for size in (1, 7, 64, 1000):
        pieces = [text[i:i + size] for i in range(0, len(text), size)]
        assert "".join(csv_lines(pieces)) == whole
    path = tmp_path / "cut.csv"
    path.write_bytes(text.encode())
    probe = probe_text(path)
    stored, _ = stream_pieces(path, iter_text(path, probe, block=100))
    assert "".join(stored) == whole == read_text(path)


def test_a_large_csv_is_read_in_bounded_memory(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write("Id,Town,Value\n")
        for i in range(200_000):
            f.write(f"{i},Town {i % 97},{i * 3}\n")
    probe = probe_text(path)
    tracemalloc.start()
    rows = 0
    stored, _ = stream_pieces(path, iter_text(path, probe, block=256 * 1024))
    for piece in stored:
        rows += piece.count("\n")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rows == 200_000
    assert peak < 2 * 1024 * 1024 < path.stat().st_size / 2, f"peak {peak:,} bytes for a {path.stat().st_size:,}-byte file"


def test_xlsx_rows_carry_headers_sheet_names_merged_cells_and_formula_values(tmp_path):
    doc = read_document(write_xlsx(tmp_path / "ports.xlsx"), "ports.xlsx")
    lines = lines_of(doc.text)
    assert lines[:3] == [
        "Row 2: Port: Valdoria; Cranes: 37; Depth (m): 16.5",
        "Row 3: Port: Marisol; Cranes: 12; Depth (m): 9",
        "Row 5: Port: Ostrava Bay; Cranes: 58; Depth (m): 21",
    ]
    assert "Row 3: Item: Dredging; Quarter: Q2; Cost: 800" in lines          # merged cell repeated
    assert "Row 4: Item: Total; Cost: 2000" in lines                          # the formula's cached value
    start = doc.text.index("Ostrava Bay")
    assert doc.location(start, start + 5) == "Ports, row 5"
    start = doc.text.index("Q2")
    assert doc.location(start, start + 2) == "Costs, row 3"
    assert read_text(tmp_path / "ports.xlsx") == doc.text


def test_a_sheet_that_starts_away_from_a1_keeps_its_row_numbers_and_merged_cells(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet["C3"], sheet["D3"] = "Line", "Stop"
    sheet["C4"], sheet["D4"] = "Red", "Quay"
    sheet["D5"] = "Mill"
    sheet.merge_cells("C4:C5")
    path = tmp_path / "lines.xlsx"
    book.save(path)
    assert read_text(path).splitlines() == ["Row 4: Line: Red; Stop: Quay", "Row 5: Line: Red; Stop: Mill"]


def test_an_ods_spreadsheet_is_read_like_a_workbook(tmp_path):
    path = write_ods(tmp_path / "trains.ods", [["Train", "Leaves"], ["Nightjar", "22:10"]])
    doc = read_document(path, "trains.ods")
    assert doc.text == "Row 2: Train: Nightjar; Leaves: 22:10\n"
    assert doc.location(doc.text.index("Nightjar"), len(doc.text) - 1) == "Trains, row 2"


def test_a_damaged_or_protected_workbook_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UnreadableDocument, match="not a readable workbook"):
        read_text(path)
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)      # what Excel writes when encrypted
    with pytest.raises(UnreadableDocument, match="password-protected"):
        read_text(path)


@pytest.mark.parametrize("suffix", [".xlsx", ".docx"])
def test_a_zip_bomb_is_refused_before_it_is_opened(tmp_path, suffix):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/bomb.xml", b"\0" * (64 * 1024 * 1024))
    path = tmp_path / ("bomb" + suffix)
    path.write_bytes(buf.getvalue())
    with pytest.raises(UnreadableDocument, match="zip bomb"):
        extract(path, path.read_bytes())
