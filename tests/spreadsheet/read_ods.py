"""Reads an OpenDocument spreadsheet (.ods) as LibreOffice wrote it, with Python's standard
library only, and prints its first table as JSON: a list of rows, each a list of cells
{"type": office:value-type, "value": office:value or date-value, "text": the cell's text,
"formula": table:formula or null}. Repeated cells and rows are written out."""

import json
import sys
import zipfile
import xml.etree.ElementTree as ET

NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}


def q(prefix, name):
    return "{%s}%s" % (NS[prefix], name)


def text_of(p):
    """A text:p's characters, its tabs, spaces and line breaks as the characters they are."""
    out = [p.text or ""]
    for child in p:
        if child.tag == q("text", "tab"):
            out.append("\t")
        elif child.tag == q("text", "s"):
            out.append(" " * int(child.get(q("text", "c"), "1")))
        elif child.tag == q("text", "line-break"):
            out.append("\n")
        else:
            out.append(text_of(child))
        out.append(child.tail or "")
    return "".join(out)


def main(path):
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read("content.xml"))
    table = root.find(".//table:table", NS)
    rows = []
    for row in table.iter(q("table", "table-row")):
        cells = []
        for cell in row:
            if cell.tag not in (q("table", "table-cell"), q("table", "covered-table-cell")):
                continue
            value = cell.get(q("office", "value")) or cell.get(q("office", "date-value"))
            one = {
                "type": cell.get(q("office", "value-type")),
                "value": value,
                "text": "\n".join(text_of(p) for p in cell.findall("text:p", NS)),
                "formula": cell.get(q("table", "formula")),
            }
            cells.extend([one] * int(cell.get(q("table", "number-columns-repeated"), "1")))
        # Trailing empty cells (a repeated blank to the sheet's edge) are not data.
        while cells and cells[-1]["type"] is None and not cells[-1]["text"]:
            cells.pop()
        if cells:
            rows.extend([cells] * int(row.get(q("table", "number-rows-repeated"), "1")))
    json.dump(rows, sys.stdout, ensure_ascii=False)


main(sys.argv[1])
