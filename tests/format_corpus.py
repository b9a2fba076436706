"""A corpus of one document of every kind, written by the libraries that make such files.

Each document holds facts only it holds (FACTS: file → (question, word of the answer, where the
citation should point)), so a test can tell which document and which part of it answered.
"""
from __future__ import annotations

from pathlib import Path

CSV_TEXT = (
    "Region,Tonnes,Year\n"
    "Kanto,\"1,250\",2024\n"
    "Kyushu,870,2024\n"
    "\n"
    "Hokkaido,4410,2023\n"
)


def write_csv(path: Path) -> Path:
    path.write_text(CSV_TEXT, encoding="utf-8")
    return path


def write_xlsx(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Ports"
    sheet.append(["Port", "Cranes", "Depth (m)"])
    sheet.append(["Valdoria", 37, 16.5])
    sheet.append(["Marisol", 12, 9])
    sheet.append([None, None, None])
    sheet.append(["Ostrava Bay", 58, 21])
    costs = book.create_sheet("Costs")
    costs.append(["Item", "Quarter", "Cost"])
    costs.append(["Dredging", "Q1", 1200])
    costs.append([None, "Q2", 800])          # the merged "Dredging" cell above covers this row
    costs.merge_cells("A2:A3")
    costs.append(["Total", None, "=SUM(C2:C3)"])
    book.save(path)
    _cache_formula_value(path, "xl/worksheets/sheet2.xml", "<f>SUM(C2:C3)</f><v></v>", "<f>SUM(C2:C3)</f><v>2000</v>")
    return path


def _cache_formula_value(path: Path, member: str, old: str, new: str) -> None:
    """Store a formula's last calculated value, as Excel does when it saves (openpyxl does not)."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        items = [(info, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in items:
            if info.filename == member:
                assert old.encode() in data
                data = data.replace(old.encode(), new.encode())
            zf.writestr(info, data)


def write_pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Orchard report"
    first.placeholders[1].text = "Bellmere cooperative"
    second = deck.slides.add_slide(deck.slide_layouts[1])
    second.shapes.title.text = "Harvest figures"
    second.placeholders[1].text = "The orchard at Bellmere picked 9,300 apples this autumn."
    second.notes_slide.notes_text_frame.text = "Remind the board that the cider press broke in October."
    third = deck.slides.add_slide(deck.slide_layouts[5])
    third.shapes.title.text = "Pickers"
    table = third.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate([["Picker", "Crates"], ["Oona Brack", "112"], ["Lev Marsh", "97"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    deck.save(path)
    return path


_OPF = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Coasts</dc:title><dc:identifier id="id">x</dc:identifier></metadata>
<manifest>
<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>
<item id="c1" href="text/one.xhtml" media-type="application/xhtml+xml"/>
<item id="c2" href="text/two.xhtml" media-type="application/xhtml+xml"/>
</manifest>
<spine toc="ncx"><itemref idref="c1"/><itemref idref="c2"/></spine>
</package>"""

_NCX = """<?xml version="1.0" encoding="utf-8"?>
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap>
<navPoint id="p1" playOrder="1"><navLabel><text>Harbours of Skarn</text></navLabel><content src="text/one.xhtml"/></navPoint>
<navPoint id="p2" playOrder="2"><navLabel><text>Lighthouses</text></navLabel><content src="text/two.xhtml#top"/></navPoint>
</navMap></ncx>"""

_CHAPTER = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head><body>{body}</body></html>"""


def write_epub(path: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        zf.writestr("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0" '
                    'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile '
                    'full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>')
        zf.writestr("OEBPS/content.opf", _OPF)
        zf.writestr("OEBPS/toc.ncx", _NCX)
        zf.writestr("OEBPS/text/one.xhtml", _CHAPTER.format(title="One", body=(
            "<h1>Harbours of Skarn</h1><p>The old harbour of Skarn was dug by hand in 1702.</p>")))
        zf.writestr("OEBPS/text/two.xhtml", _CHAPTER.format(title="Two", body=(
            "<h1>Lighthouses</h1><h2>The fog bell</h2>"
            "<p>The Skarn lighthouse keeper rang the fog bell 41 times on the night of the wreck.</p>")))
    return path


def write_eml(path: Path) -> Path:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Hannah Vale <hannah@example.org>"
    msg["To"] = "office@example.org"
    msg["Date"] = "Tue, 04 Mar 2025 09:15:00 +0000"
    msg["Subject"] = "Boiler service visit"
    msg.set_content("Hello,\n\nThe engineer Tomasz Wren will service the boiler on 14 March.\n\nHannah\n")
    msg.add_attachment("The spare key is under the blue flowerpot by the shed.\n", subtype="plain",
                       filename="notes.txt")
    path.write_bytes(bytes(msg))
    return path


GUIDE_MD = (
    "# Setup\n\nThe tool runs on any computer.\n\n"
    "## Linux\n\nInstall the quokka package with apt before the first run.\n\n"
    "## Windows\n\nRun the installer as an administrator.\n"
)

FLEET_HTML = b"""<html><body><h1>Fleet</h1><p>Our ships and who commands them.</p>
<table><tr><th>Ship</th><th>Captain</th><th>Home port</th></tr>
<tr><td>Albatross</td><td>Ingrid Solberg</td><td>Tromso</td></tr>
<tr><td>Petrel</td><td>Aled Pryce</td><td>Swansea</td></tr></table></body></html>"""


def write_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Village hall", level=1)
    d.add_heading("Budget", level=2)
    table = d.add_table(rows=3, cols=2)
    for r, row in enumerate([["Item", "Cost"], ["Roofing", "18,400 pounds"], ["Heating", "6,100 pounds"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.add_paragraph("The council pays half of every item.")
    d.save(str(path))
    return path


LOCK_ROWS = [["Lock", "Canal", "Rise (m)", "Keeper"],
             ["Bramwell", "Ouse Cut", "3.2", "Mira Tolland"],
             ["Fenwick", "Ouse Cut", "2.7", "Jonas Eke"],
             ["Harrowgate", "Tame Navigation", "4.1", "Petra Vance"],
             ["Lowmoor", "Tame Navigation", "1.9", "Sol Abara"]]


def ruled_table(rows: list[list[str]], repeat_header: bool = False):
    """A reportlab table with every cell ruled (a grid)."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, repeatRows=1 if repeat_header else 0)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    return table


def write_reportlab_pdf(path: Path, story: list) -> Path:
    """A PDF laid out by reportlab from ``story``: strings are paragraphs, "PAGE" starts a new page,
    anything else (a table) is placed as it is."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    style = getSampleStyleSheet()["Normal"]
    flow = []
    for item in story:
        if item == "PAGE":
            flow.append(PageBreak())
        elif isinstance(item, str):
            flow += [Paragraph(item, style), Spacer(1, 8)]
        else:
            flow += [item, Spacer(1, 8)]
    SimpleDocTemplate(str(path), pagesize=A4, title="", author="").build(flow)
    return path


def write_table_pdf(path: Path) -> Path:
    """Two pages: a paragraph, then paragraphs around a ruled table of locks and their keepers."""
    return write_reportlab_pdf(path, [
        "The canal trust reports on its waterways every spring.", "PAGE",
        "The trust keeps four locks on two waterways.", ruled_table(LOCK_ROWS),
        "Keepers are paid by the trust and inspected every spring."])


class Fact:
    def __init__(self, source: str, question: str, word: str, sentence: str, location: str):
        self.source, self.question, self.word, self.sentence, self.location = source, question, word, sentence, location


FACTS = {
    "csv": Fact("tonnes.csv", "Which region produced 4410 tonnes?", "Hokkaido",
                "Hokkaido produced 4410 tonnes in 2023.", "row 5"),
    "xlsx": Fact("ports.xlsx", "What is the crane count at Ostrava Bay?", "Ostrava",
                 "Ostrava Bay has 58 cranes and a depth of 21 metres.", "Ports, row 5"),
    "pptx": Fact("deck.pptx", "What did the orchard at Bellmere pick this autumn?", "9,300",
                 "The orchard at Bellmere picked 9,300 apples.", "slide 2 › Harvest figures"),
    "pptx-table": Fact("deck.pptx", "Who picked 112 crates?", "Oona",
                       "Oona Brack picked 112 crates.", "slide 3 › Pickers"),
    "pptx-notes": Fact("deck.pptx", "When did the cider press break?", "cider",
                       "The cider press broke in October.", "slide 2 › Harvest figures"),
    "epub": Fact("coasts.epub", "How many times did the Skarn lighthouse keeper ring the fog bell?", "41",
                 "The Skarn lighthouse keeper rang the fog bell 41 times.", "chapter 'Lighthouses' › The fog bell"),
    "eml": Fact("boiler.eml", "Who will service the boiler?", "Tomasz",
                "The engineer Tomasz Wren will service the boiler.", "message 'Boiler service visit'"),
    "eml-attachment": Fact("boiler.eml/notes.txt", "What is kept under the blue flowerpot?", "flowerpot",
                           "The spare key is under the blue flowerpot by the shed.",
                           "message 'Boiler service visit' › notes.txt"),
    "md": Fact("guide.md", "What must be installed with apt before the first run on Linux?", "quokka",
               "Install the quokka package with apt.", "Setup › Linux"),
    "html": Fact("fleet.html", "Who is the captain of the Albatross?", "Albatross",
                 "Ingrid Solberg is the captain of the Albatross.", "Fleet"),
    "docx": Fact("hall.docx", "How much does the roofing cost?", "Roofing",
                 "The roofing costs 18,400 pounds.", "Village hall › Budget"),
    "png": Fact("dam.png", "How much water does the Quillon dam hold?", "megalitres",
                "The Quillon dam holds 7,450 megalitres of water.", "text read by OCR"),
    "pdf-scan": Fact("ferry.pdf", "How many cars does the ferry Osprey carry?", "Osprey",
                     "The ferry Osprey carries 212 cars.", "page 2, text read by OCR"),
    "pdf-table": Fact("locks.pdf", "Who keeps the Harrowgate lock?", "Harrowgate",
                      "Petra Vance keeps the Harrowgate lock.", "page 2"),
    "pdf-text": Fact("ferry.pdf", "What did the harbour board decide about mooring fees?", "mooring",
                     "The harbour board froze the mooring fees.", "page 1"),
}


# One question per kind of document for the test with the real models (each answer takes seconds).
ONE_PER_KIND = ["csv", "xlsx", "pptx", "epub", "eml", "eml-attachment", "md", "html", "docx", "png", "pdf-scan",
                "pdf-table"]


def names_place(location: str, expected: str) -> bool:
    """True when a citation's ``location`` names the ``expected`` place: the same words, or for a
    spreadsheet row ("Ports, row 5") the same sheet and a run of rows that holds that row."""
    import re

    want = re.fullmatch(r"(?:(.+), )?row (\d+)", expected)
    if want is None:
        return location == expected
    got = re.fullmatch(r"(?:(.+), )?rows? (\d+)(?:–(\d+))?", location)
    if got is None or got.group(1) != want.group(1):
        return False
    first, last = int(got.group(2)), int(got.group(3) or got.group(2))
    return first <= int(want.group(2)) <= last


def write_all(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_csv(root / "tonnes.csv")
    write_xlsx(root / "ports.xlsx")
    write_pptx(root / "deck.pptx")
    write_epub(root / "coasts.epub")
    write_eml(root / "boiler.eml")
    (root / "guide.md").write_text(GUIDE_MD, encoding="utf-8")
    (root / "fleet.html").write_bytes(FLEET_HTML)
    write_docx(root / "hall.docx")
    write_png(root / "dam.png")
    write_mixed_pdf(root / "ferry.pdf")
    write_table_pdf(root / "locks.pdf")
    return root


def write_mixed_pdf(path: Path) -> Path:
    """A PDF whose first page has a text layer and whose second is a scan."""
    import io

    from pypdf import PdfReader, PdfWriter

    from test_documents import make_pdf

    scan = write_scanned_pdf(path.with_suffix(".scan.tmp"), [["The ferry Osprey carries 212 cars."]])
    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(make_pdf(["The harbour board froze the mooring fees for 2026."]))).pages[0])
    writer.add_page(PdfReader(scan).pages[0])
    writer.write(path)
    scan.unlink()
    return path


def text_image(lines: list[str], size: tuple[int, int] = (1400, 400)):
    """A picture of printed lines, as a scanner would give (PIL draws them)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=36)
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 80 * i), line, font=font, fill=0)
    return img


DAM_LINES = ["The Quillon dam holds 7,450 megalitres of water.", "Inspections happen every March."]


def write_png(path: Path) -> Path:
    text_image(DAM_LINES).save(path)
    return path


def write_scanned_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF of page images without a text layer, one page per list of lines."""
    images = [text_image(lines, (1275, 1650)) for lines in pages]
    images[0].save(path, "PDF", resolution=150, save_all=True, append_images=images[1:])
    return path


def write_ods(path: Path, rows: list[list[str]]) -> Path:
    from rag.bench_formats import ods_bytes

    path.write_bytes(ods_bytes(rows, "Trains"))
    return path
