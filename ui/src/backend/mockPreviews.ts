/**
 * Canned file previews for the mock backend: one or two of each kind, chosen by the file's
 * extension as the host chooses by type, so tests and `npm run dev` show every way a file the
 * agent made can look.
 */
import type { DocBlock, FilePreview, PreviewSheet } from './types';

/** A 320×200 bar chart, as the host would send a PNG: a `data:` URL. */
export const SAMPLE_PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAUAAAADICAIAAAAWZq/8AAADaElEQVR42u3TAQ0AIQwEwYpBE1qwiCpQ0YSW2byBPjdxJJUt/AIJYEkASwJYAlgSwJIAlgSwBLAkgCUBLAEsCWBJAEsCWAJYEsCSAJYEsASwJIAlASwBLAlgSQBLAlgCWBLAkgCWBLDaNeZ+8ANYAhhgAQywBDDAEsAASwBLAAMsAQywBDDAAhhgCWCAJYABlgAGWAADLAEMsAQwwBLAEsAASwADLAEMsHF4I4AFsDcC2DgA9kYAGwfA3ghg4/BGABsHwN4IYOMA2BsBbBzeCGAZhzcC2DgA9kYAGwfA3ghg4/BGABsHwN4IYOMA2BsBbBwAAyzj8EYAGwfA3ghg4wDYGwFsHN4IYAHsjQA2DoC9EcDGAbA3Atg4vBHAxgGwNwLYOAD2RgAbhwCWcXgjgI0DYG8EsHEA7I0ANg5vBLAA9kYAGwfA3ghg4wDYGwFsHN4IYOMA2BsBbBwAeyOAjUMAyzi8EcDGAbA3Atg4APZGABuHNwJYAHsjgI0DYG8EsHEA7I0ANg5vBLBxAOyNADYOgL0RwMbhjQCWcXgjgI0DYG8EsHEA7I0ANg5vBLBxAOyNADYOgL0RwMYBMMAyDm8EsHEA7I0ANg6AvRHAxuGNABbA3uhXwP1+JcAAAwwwwAADDDDA3ghg4wAYYIABBhhggAG2OoABBhhgv9I4AAYYYIABBhhggL0RwAADDDDAAAMMMMAAWx3AAAMMsF9pHAADDDDAAAMMMMDeCGCAAQbYrwQYYIABBhhggAEG2BsB7CKAAQYYYIABBhhgqwMYYAHsVxoHwAADDDDAAAMMsDcCGGCAAfYrAQYYYIBd5CKAjcNFAAPsIhcBbBwuchHAxuEiFwFsHC4CGGAXuQhg43CRiwA2DhcBDLBxuAhg43CRiwA2Dhe5CGDjcBHAALvIRQAbh4tcBLBxuMhFABuHiwAG2EUuAtg4XOQigI3DRQADbBwuAtg4XOQigI3DRS4C2DhcBDDALnIRwMbhIhcBbBwuchHAxuEigP1KF7kIYONwkYsANg4XAQywi1wEsHG4yEUAG4eLXASwcbgIYIBd5CKAjcNFLgLYOFzkIoCNw0UA+5UuclEHwEtSWgBLAEuqEMASwJIAlgSwBLAkgCUBLAlgCWBJAEsCWAJYEsCSAJYEsASwJIAlJXQBbfkipdBrYegAAAAASUVORK5CYII=';

/**
 * A two-page A4 PDF (a heading, a line and a bar chart; a heading and a line), as the host sends
 * a PDF to draw: a `data:` URL, with its pages' text for when drawing fails.
 */
export const SAMPLE_PDF =
  'data:application/pdf;base64,JVBERi0xLjQKMSAwIG9iago8PCAvVHlwZSAvQ2F0YWxvZyAvUGFnZXMgMiAwIFIgPj4KZW5kb2JqCjIgMCBvYmoKPDwgL1R5cGUgL1BhZ2VzIC9LaWRzIFszIDAgUiA0IDAgUl0gL0NvdW50IDIgL01lZGlhQm94IFswIDAgNTk1IDg0Ml0gPj4KZW5kb2JqCjMgMCBvYmoKPDwgL1R5cGUgL1BhZ2UgL1BhcmVudCAyIDAgUiAvUmVzb3VyY2VzIDUgMCBSIC9Db250ZW50cyA2IDAgUiA+PgplbmRvYmoKNCAwIG9iago8PCAvVHlwZSAvUGFnZSAvUGFyZW50IDIgMCBSIC9SZXNvdXJjZXMgNSAwIFIgL0NvbnRlbnRzIDcgMCBSID4+CmVuZG9iago1IDAgb2JqCjw8IC9Gb250IDw8IC9GMSA8PCAvVHlwZSAvRm9udCAvU3VidHlwZSAvVHlwZTEgL0Jhc2VGb250IC9IZWx2ZXRpY2EgPj4gPj4gPj4KZW5kb2JqCjYgMCBvYmoKPDwgL0xlbmd0aCAyMDEgPj4Kc3RyZWFtCkJUIC9GMSAyMCBUZiA1NiA3NzAgVGQgKEV4cGVuc2VzLCBmaXJzdCBxdWFydGVyIDIwMjYpIFRqIEVUCkJUIC9GMSAxMSBUZiA1NiA3NDAgVGQgKEZvdXIgcmVjZWlwdHMgYWRkIHVwIHRvIDQ0NS40OSBFVVIuKSBUaiBFVAowLjE0IDAuMzQgMC43OSByZyA1NiA1NjAgNjAgMTIwIHJlIGYgMTM2IDU2MCA2MCA0MCByZSBmIDIxNiA1NjAgNjAgMzAgcmUgZgplbmRzdHJlYW0KZW5kb2JqCjcgMCBvYmoKPDwgL0xlbmd0aCAxMTIgPj4Kc3RyZWFtCkJUIC9GMSAxNiBUZiA1NiA3NzAgVGQgKEJ5IGNhdGVnb3J5KSBUaiBFVApCVCAvRjEgMTEgVGYgNTYgNzQ1IFRkIChIZWFsdGggMzUyLjQwICBGb29kIDU4LjEwICBIb3VzZSAzNC45OSkgVGogRVQKZW5kc3RyZWFtCmVuZG9iagp4cmVmCjAgOAowMDAwMDAwMDAwIDY1NTM1IGYgCjAwMDAwMDAwMDkgMDAwMDAgbiAKMDAwMDAwMDA1OCAwMDAwMCBuIAowMDAwMDAwMTQ1IDAwMDAwIG4gCjAwMDAwMDAyMjUgMDAwMDAgbiAKMDAwMDAwMDMwNSAwMDAwMCBuIAowMDAwMDAwMzk3IDAwMDAwIG4gCjAwMDAwMDA2NDkgMDAwMDAgbiAKdHJhaWxlcgo8PCAvU2l6ZSA4IC9Sb290IDEgMCBSID4+CnN0YXJ0eHJlZgo4MTIKJSVFT0YK';

const SAMPLE_PDF_PAGES = ['Expenses, first quarter 2026\nFour receipts add up to 445.49 EUR.', 'By category\nHealth 352.40  Food 58.10  House 34.99'];

const EXPENSES: PreviewSheet = {
  name: 'Expenses',
  rows: [
    ['Date', 'Shop', 'Category', 'Amount'],
    ['2026-01-12', 'Pharmacy Lind', 'Health', '112.40'],
    ['2026-02-03', 'Grocer Eck', 'Food', '58.10'],
    ['2026-02-17', 'Hardware Moll', 'House', '34.99'],
    ['2026-03-14', 'Optician Berg', 'Health', '240.00'],
    ['Total', '', '', '445.49'],
  ],
  // The host sends the first rows and columns only; a long sheet says so.
  truncated: true,
};

const BY_CATEGORY: PreviewSheet = {
  name: 'By category',
  rows: [
    ['Category', 'Amount', 'Share'],
    ['Health', '352.40', '79 %'],
    ['Food', '58.10', '13 %'],
    ['House', '34.99', '8 %'],
  ],
  truncated: false,
};

const REPORT: DocBlock[] = [
  { type: 'heading', level: 1, text: 'Expenses, first quarter 2026' },
  { type: 'paragraph', text: 'Four receipts add up to 445.49 EUR. Health costs are most of it.' },
  { type: 'heading', level: 2, text: 'What stands out' },
  { type: 'list_item', text: 'The optician bill (240.00 EUR) can be claimed from the insurance.' },
  { type: 'list_item', text: 'The hardware store payment has no receipt yet.' },
  { type: 'heading', level: 3, text: 'By category' },
  { type: 'table', rows: BY_CATEGORY.rows },
  { type: 'paragraph', text: 'The spreadsheet expenses.xlsx has every receipt.' },
];

const NOTES = `# Receipts 2026

## Total

1,843.20 EUR, from **three** receipts:

- January: 612.40
- February: 530.80
- March: 700.00
`;

/** The last part of a path (the mock keeps out of the page's model modules). */
function fileName(path: string): string {
  return path.split('/').pop() || path;
}

function extension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/** What the host would answer for `path`, by its extension. */
export function cannedPreview(path: string): FilePreview {
  const name = fileName(path);
  switch (extension(name)) {
    case 'png':
    case 'jpg':
    case 'jpeg':
    case 'gif':
    case 'webp':
      return { kind: 'image', name, data_url: SAMPLE_PNG, bytes: 929 };
    case 'xlsx':
      return { kind: 'table', name, sheets: [EXPENSES, BY_CATEGORY], bytes: 6_412 };
    case 'csv':
      return { kind: 'table', name, sheets: [{ ...EXPENSES, name: name.replace(/\.csv$/i, ''), truncated: false }], bytes: 214 };
    case 'docx':
      return { kind: 'document', name, blocks: REPORT, bytes: 9_870 };
    case 'md':
    case 'markdown':
      return { kind: 'text', name, text: NOTES, truncated: false, bytes: NOTES.length };
    case 'txt':
    case 'json':
      return { kind: 'text', name, text: 'date,shop,amount\n2026-03-14,Pharmacy Lind,112.40\n', truncated: false, bytes: 48 };
    case 'log':
      return { kind: 'text', name, text: 'build started\ncompiling 214 files\n', truncated: true, bytes: 3_400_000 };
    case 'pdf':
      return { kind: 'pdf', name, data_url: SAMPLE_PDF, pages: SAMPLE_PDF_PAGES, page_count: 2, bytes: 48_211 };
    default:
      return { kind: 'unsupported', name, reason: 'Workroom cannot show this kind of file.', bytes: 1_024 };
  }
}
