"""Documents the agent writes, read back with independent libraries (openpyxl, python-docx,
pypdf, python-pptx): an expense spreadsheet built from a folder of receipts, a Word report, a PDF
and a presentation, a skill from the shared folder, and the agent reading its own files back.

The model is the fake one, scripted as a model would work: load the skill, read the receipts, then
write the files. What is checked is the files on disk, as another program sees them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent import agent_env, run_agent_raw, workdir

openpyxl = pytest.importorskip("openpyxl")
docx = pytest.importorskip("docx")
pypdf = pytest.importorskip("pypdf")
pptx = pytest.importorskip("pptx")

RECEIPTS = {
    "2026-03-02-cafe.txt": "Cafe Lumiere\nDate: 2026-03-02\nTotal: 12.50 EUR\n",
    "2026-03-05-train.txt": "SNCF\nDate: 2026-03-05\nTotal: 84.00 EUR\n",
    "2026-03-09-hotel.txt": "Hotel du Parc\nDate: 2026-03-09\nTotal: 230.40 EUR\n",
}
HOUSE_STYLE = "---\nname: house-style\ndescription: How this office formats expense reports\n---\nTotals in EUR with two decimals; sign as Finance Team.\n"


def tool(name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "tool_use", "name": name, "input": tool_input}]}


def script(work: Path) -> dict[str, Any]:
    rows = [["Date", "Vendor", "Amount (EUR)"],
            ["2026-03-02", "Cafe Lumiere", 12.5],
            ["2026-03-05", "SNCF", 84.0],
            ["2026-03-09", "Hotel du Parc", 230.4],
            ["Total", None, {"formula": "=SUM(C2:C4)"}]]
    blocks = [{"heading": "March expenses", "level": 1},
              {"paragraph": "Three receipts, from the Receipts folder."},
              {"bullets": ["Cafe Lumiere: 12.50", "SNCF: 84.00", "Hotel du Parc: 230.40"]},
              {"table": [["Vendor", "Amount"], ["Cafe Lumiere", "12.50"], ["SNCF", "84.00"],
                         ["Hotel du Parc", "230.40"], ["Total", "326.90"]]},
              {"paragraph": "Signed: Finance Team"}]
    return {"steps": [
        tool("Skill", {"skill": "house-style"}),
        tool("Skill", {"skill": "xlsx"}),
        tool("Glob", {"pattern": "Receipts/*.txt"}),
        tool("Read", {"file_path": str(work / "Receipts" / "2026-03-09-hotel.txt")}),
        tool("CreateSpreadsheet", {"file_path": str(work / "Expenses.xlsx"), "sheets": [{
            "name": "March", "rows": rows, "column_widths": [12, 20, 14],
            "number_formats": {"C": "#,##0.00"},
            "charts": [{"type": "column", "categories": "B2:B4", "values": "C2:C4", "title": "By vendor"}]}]}),
        tool("CreateDocument", {"file_path": str(work / "Report.docx"), "title": "Expense report", "blocks": blocks}),
        tool("CreatePdf", {"file_path": str(work / "Report.pdf"), "title": "Expense report", "blocks": blocks}),
        tool("CreatePresentation", {"file_path": str(work / "Summary.pptx"), "title": "March", "slides": [
            {"title": "March expenses", "bullets": ["Three receipts", "Total 326.90 EUR"]},
            {"title": "Next steps", "text": "Send to Finance & file the receipts."}]}),
        # Reading them back as the agent would read a person's files.
        tool("ReadDocument", {"file_path": str(work / "Expenses.xlsx")}),
        tool("ReadDocument", {"file_path": str(work / "Report.docx")}),
        tool("ReadDocument", {"file_path": str(work / "Report.pdf")}),
        {"content": [{"type": "text", "text": "The spreadsheet, the report and its PDF are in the folder."}]},
    ]}


def test_expense_spreadsheet_report_and_pdf_from_receipts(fake_model, tmp_path: Path) -> None:
    work = workdir(tmp_path)
    (work / "Receipts").mkdir()
    for name, text in RECEIPTS.items():
        (work / "Receipts" / name).write_text(text, encoding="utf-8")
    (work / ".claude" / "skills" / "house-style").mkdir(parents=True)
    (work / ".claude" / "skills" / "house-style" / "SKILL.md").write_text(HOUSE_STYLE, encoding="utf-8")
    server = fake_model(script(work))
    state = tmp_path / "state"
    state.mkdir()
    code, frames, stderr = run_agent_raw(
        [{"type": "user", "message": {"role": "user", "content": "Make the March expense report"},
          "parent_tool_use_id": None, "session_id": ""}],
        args=["--output-format", "stream-json", "--input-format", "stream-json", "--verbose",
              "--permission-mode", "acceptEdits"],
        cwd=work, env=agent_env(server.url, state), timeout=60)
    assert code == 0, stderr
    results = [b for f in frames if f.get("type") == "user"
               for b in (f["message"]["content"] if isinstance(f["message"]["content"], list) else [])
               if b.get("type") == "tool_result"]
    errors = [r for r in results if r.get("is_error")]
    assert not errors, errors
    # The skill from the shared folder was loaded, and offered by name and description.
    assert "sign as Finance Team" in str(results[0]["content"])
    skill_tool = next(t for t in server.model_requests()[0]["body"]["tools"] if t["name"] == "Skill")
    assert "house-style: How this office formats expense reports" in skill_tool["description"]

    # The spreadsheet, as Excel's own format readers see it.
    book = openpyxl.load_workbook(work / "Expenses.xlsx")
    sheet = book["March"]
    assert [c.value for c in sheet[1]] == ["Date", "Vendor", "Amount (EUR)"]
    assert sheet["A1"].font.bold
    assert [sheet[f"C{r}"].value for r in (2, 3, 4)] == [12.5, 84.0, 230.4]
    assert sheet["C5"].value == "=SUM(C2:C4)"
    assert sheet["C2"].number_format == "#,##0.00"
    assert sheet.freeze_panes == "A2"
    assert len(sheet._charts) == 1
    # The cached total, for viewers that do not recalculate.
    values = openpyxl.load_workbook(work / "Expenses.xlsx", data_only=True)["March"]
    assert values["C5"].value == pytest.approx(326.9)

    # The Word document: real headings, list items and a table.
    document = docx.Document(str(work / "Report.docx"))
    styled = [(p.style.name, p.text) for p in document.paragraphs if p.text]
    assert ("Title", "Expense report") in styled
    assert ("Heading 1", "March expenses") in styled
    assert any(text.endswith("SNCF: 84.00") for _, text in styled)
    table = document.tables[0]
    assert [c.text for c in table.rows[4].cells] == ["Total", "326.90"]
    assert document.core_properties.title == "Expense report"

    # The PDF: text that can be extracted, in order.
    reader = pypdf.PdfReader(str(work / "Report.pdf"))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in ("Expense report", "March expenses", "Hotel du Parc", "326.90", "Signed: Finance Team"):
        assert expected in text, text
    assert reader.metadata.title == "Expense report"

    # The presentation: two slides, titles and bullets as PowerPoint's own reader sees them.
    deck = pptx.Presentation(str(work / "Summary.pptx"))
    texts = [[shape.text_frame.text for shape in slide.shapes if shape.has_text_frame] for slide in deck.slides]
    assert texts == [["March expenses", "Three receipts\nTotal 326.90 EUR"],
                     ["Next steps", "Send to Finance & file the receipts."]], texts
    assert deck.slide_width == 12192000 and deck.core_properties.title == "March"

    # ReadDocument gave the agent the same content, as Markdown.
    sheet_md, doc_md, pdf_md = (str(r["content"]) for r in results[-3:])
    assert "## Page 1" in pdf_md and "March expenses" in pdf_md and "Hotel du Parc" in pdf_md, pdf_md
    assert "## Sheet: March" in sheet_md and "| Hotel du Parc | 230.4 |" in sheet_md, sheet_md
    assert "| Total |  | 326.9 |" in sheet_md, sheet_md
    assert "# March expenses" in doc_md and "- SNCF: 84.00" in doc_md and "| Total | 326.90 |" in doc_md, doc_md


def test_existing_documents_are_not_replaced_without_asking(fake_model, tmp_path: Path) -> None:
    work = workdir(tmp_path)
    (work / "Report.pdf").write_bytes(b"%PDF-1.4 the person's own file")
    server = fake_model({"steps": [
        tool("CreatePdf", {"file_path": str(work / "Report.pdf"), "blocks": [{"paragraph": "x"}]}),
        {"content": [{"type": "text", "text": "ok"}]},
    ]})
    state = tmp_path / "state"
    state.mkdir()
    code, frames, stderr = run_agent_raw(
        [{"type": "user", "message": {"role": "user", "content": "write it"}, "parent_tool_use_id": None,
          "session_id": ""}],
        args=["--output-format", "stream-json", "--input-format", "stream-json", "--verbose",
              "--permission-mode", "acceptEdits"],
        cwd=work, env=agent_env(server.url, state), timeout=60)
    assert code == 0, stderr
    assert (work / "Report.pdf").read_bytes() == b"%PDF-1.4 the person's own file"
    result = next(b for f in frames if f.get("type") == "user" and isinstance(f["message"]["content"], list)
                  for b in f["message"]["content"] if b.get("type") == "tool_result")
    assert result["is_error"] and "overwrite" in str(result["content"])
