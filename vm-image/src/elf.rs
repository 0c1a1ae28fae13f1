//! Just enough ELF64 (little-endian) reading for this crate: the header, program headers, notes
//! and sections by name. Every offset is bounds-checked; nothing here trusts the input.

/// `e_machine` of x86_64.
pub const EM_X86_64: u16 = 62;
/// `e_machine` of aarch64.
pub const EM_AARCH64: u16 = 183;
/// `e_type` of an executable.
pub const ET_EXEC: u16 = 2;
/// `e_type` of a shared object / position-independent executable.
pub const ET_DYN: u16 = 3;
/// `e_type` of a relocatable object (kernel modules).
pub const ET_REL: u16 = 1;
/// `p_type` of the interpreter request (dynamic linking).
pub const PT_INTERP: u32 = 3;
/// `p_type` of a note segment.
pub const PT_NOTE: u32 = 4;

/// Why a byte string is not a usable ELF64 file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfError(pub String);

impl std::fmt::Display for ElfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ElfError> {
    Err(ElfError(msg.into()))
}

fn slice(data: &[u8], offset: u64, len: u64) -> Result<&[u8], ElfError> {
    let start = usize::try_from(offset).map_err(|_| ElfError("offset too large".into()))?;
    let len = usize::try_from(len).map_err(|_| ElfError("length too large".into()))?;
    let end = start
        .checked_add(len)
        .ok_or_else(|| ElfError("offset overflow".into()))?;
    data.get(start..end).ok_or_else(|| {
        ElfError(format!(
            "truncated: needs bytes {start}..{end} of {}",
            data.len()
        ))
    })
}

fn u16_at(data: &[u8], off: usize) -> Result<u16, ElfError> {
    let b = slice(data, off as u64, 2)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(data: &[u8], off: usize) -> Result<u32, ElfError> {
    let b = slice(data, off as u64, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(data: &[u8], off: usize) -> Result<u64, ElfError> {
    let b = slice(data, off as u64, 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_le_bytes(a))
}

/// A program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramHeader {
    /// `p_type`.
    pub p_type: u32,
    /// `p_offset`.
    pub offset: u64,
    /// `p_filesz`.
    pub filesz: u64,
}

/// A section header (only what this crate uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Name from the section-name string table.
    pub name: String,
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_offset`.
    pub offset: u64,
    /// `sh_size`.
    pub size: u64,
}

/// An ELF note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note<'a> {
    /// Owner name without the trailing NUL (`Xen`, `GNU`, `Linux`).
    pub name: &'a [u8],
    /// Note type.
    pub n_type: u32,
    /// Descriptor bytes.
    pub desc: &'a [u8],
}

/// A parsed ELF64 little-endian file.
#[derive(Debug, Clone)]
pub struct Elf<'a> {
    data: &'a [u8],
    /// `e_type`.
    pub e_type: u16,
    /// `e_machine`.
    pub e_machine: u16,
    phoff: u64,
    phentsize: u16,
    phnum: u16,
    shoff: u64,
    shentsize: u16,
    shnum: u16,
    shstrndx: u16,
}

impl<'a> Elf<'a> {
    /// Parses the file header.
    pub fn parse(data: &'a [u8]) -> Result<Self, ElfError> {
        if data.len() < 64 || &data[..4] != b"\x7fELF" {
            return err("not an ELF file");
        }
        if data[4] != 2 {
            return err("not a 64-bit ELF file");
        }
        if data[5] != 1 {
            return err("not a little-endian ELF file");
        }
        Ok(Elf {
            data,
            e_type: u16_at(data, 16)?,
            e_machine: u16_at(data, 18)?,
            phoff: u64_at(data, 32)?,
            shoff: u64_at(data, 40)?,
            phentsize: u16_at(data, 54)?,
            phnum: u16_at(data, 56)?,
            shentsize: u16_at(data, 58)?,
            shnum: u16_at(data, 60)?,
            shstrndx: u16_at(data, 62)?,
        })
    }

    /// All program headers.
    pub fn program_headers(&self) -> Result<Vec<ProgramHeader>, ElfError> {
        if self.phnum == 0 {
            return Ok(Vec::new());
        }
        if self.phentsize < 56 {
            return err("program header entries too small");
        }
        (0..u64::from(self.phnum))
            .map(|i| {
                let off = table_entry(self.phoff, i, self.phentsize)?;
                let h = slice(self.data, off, 56)?;
                Ok(ProgramHeader {
                    p_type: u32_at(h, 0)?,
                    offset: u64_at(h, 8)?,
                    filesz: u64_at(h, 32)?,
                })
            })
            .collect()
    }

    /// All section headers, named.
    pub fn sections(&self) -> Result<Vec<Section>, ElfError> {
        if self.shnum == 0 {
            return Ok(Vec::new());
        }
        if self.shentsize < 64 {
            return err("section header entries too small");
        }
        let raw = |i: u64| -> Result<(u32, u32, u64, u64), ElfError> {
            let off = table_entry(self.shoff, i, self.shentsize)?;
            let h = slice(self.data, off, 64)?;
            Ok((u32_at(h, 0)?, u32_at(h, 4)?, u64_at(h, 24)?, u64_at(h, 32)?))
        };
        if self.shstrndx >= self.shnum {
            return err("section name table index out of range");
        }
        let (_, _, str_off, str_size) = raw(u64::from(self.shstrndx))?;
        let strtab = slice(self.data, str_off, str_size)?;
        (0..u64::from(self.shnum))
            .map(|i| {
                let (name_off, sh_type, offset, size) = raw(i)?;
                let name_bytes = strtab.get(name_off as usize..).unwrap_or_default();
                let end = name_bytes
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(name_bytes.len());
                Ok(Section {
                    name: String::from_utf8_lossy(&name_bytes[..end]).into_owned(),
                    sh_type,
                    offset,
                    size,
                })
            })
            .collect()
    }

    /// The contents of the first section called `name`, if any.
    pub fn section_data(&self, name: &str) -> Result<Option<&'a [u8]>, ElfError> {
        const SHT_NOBITS: u32 = 8;
        for s in self.sections()? {
            if s.name == name {
                if s.sh_type == SHT_NOBITS {
                    return Ok(Some(&[]));
                }
                return slice(self.data, s.offset, s.size).map(Some);
            }
        }
        Ok(None)
    }

    /// Whether the file asks for a dynamic loader (`PT_INTERP`).
    pub fn has_interpreter(&self) -> Result<bool, ElfError> {
        Ok(self
            .program_headers()?
            .iter()
            .any(|p| p.p_type == PT_INTERP))
    }

    /// Every note in every `PT_NOTE` segment.
    pub fn notes(&self) -> Result<Vec<Note<'a>>, ElfError> {
        let mut out = Vec::new();
        for ph in self.program_headers()? {
            if ph.p_type == PT_NOTE {
                out.extend(parse_notes(slice(self.data, ph.offset, ph.filesz)?)?);
            }
        }
        Ok(out)
    }
}

fn table_entry(base: u64, index: u64, entsize: u16) -> Result<u64, ElfError> {
    index
        .checked_mul(u64::from(entsize))
        .and_then(|o| o.checked_add(base))
        .ok_or_else(|| ElfError("header table offset overflow".into()))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Parses a run of ELF notes (4-byte aligned, as in 64-bit Linux kernels).
pub fn parse_notes(mut data: &[u8]) -> Result<Vec<Note<'_>>, ElfError> {
    let mut out = Vec::new();
    while data.len() >= 12 {
        let namesz = u32_at(data, 0)? as usize;
        let descsz = u32_at(data, 4)? as usize;
        let n_type = u32_at(data, 8)?;
        let name_end = 12usize
            .checked_add(namesz)
            .ok_or_else(|| ElfError("note name size overflow".into()))?;
        let desc_start = align4(name_end);
        let desc_end = desc_start
            .checked_add(descsz)
            .ok_or_else(|| ElfError("note size overflow".into()))?;
        if desc_end > data.len() {
            return err("truncated note");
        }
        let mut name = &data[12..name_end];
        if let Some((&0, rest)) = name.split_last() {
            name = rest;
        }
        out.push(Note {
            name,
            n_type,
            desc: &data[desc_start..desc_end],
        });
        data = &data[align4(desc_end).min(data.len())..];
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builds tiny ELF64 files for tests.

    /// One section for [`build`].
    pub struct TestSection<'a> {
        pub name: &'a str,
        pub data: &'a [u8],
    }

    /// An ELF64 LE file with the given type/machine, optional PT_NOTE and PT_INTERP segments
    /// and named sections.
    pub fn build(
        e_type: u16,
        machine: u16,
        notes: Option<&[u8]>,
        interp: bool,
        sections: &[TestSection<'_>],
    ) -> Vec<u8> {
        let mut body: Vec<u8> = Vec::new();
        let mut phdrs: Vec<(u32, u64, u64)> = Vec::new();
        let data_start = 64u64;
        if let Some(n) = notes {
            phdrs.push((
                super::PT_NOTE,
                data_start + body.len() as u64,
                n.len() as u64,
            ));
            body.extend_from_slice(n);
        }
        if interp {
            let s = b"/lib/ld-musl.so.1\0";
            phdrs.push((
                super::PT_INTERP,
                data_start + body.len() as u64,
                s.len() as u64,
            ));
            body.extend_from_slice(s);
        }
        // Section contents and the name table.
        let mut shstr = vec![0u8];
        let mut shdrs: Vec<(u32, u32, u64, u64)> = vec![(0, 0, 0, 0)];
        for s in sections {
            let name_off = shstr.len() as u32;
            shstr.extend_from_slice(s.name.as_bytes());
            shstr.push(0);
            shdrs.push((
                name_off,
                1,
                data_start + body.len() as u64,
                s.data.len() as u64,
            ));
            body.extend_from_slice(s.data);
        }
        let shstr_name = shstr.len() as u32;
        shstr.extend_from_slice(b".shstrtab\0");
        shdrs.push((
            shstr_name,
            3,
            data_start + body.len() as u64,
            shstr.len() as u64,
        ));
        body.extend_from_slice(&shstr);
        while body.len() % 8 != 0 {
            body.push(0);
        }
        let phoff = data_start + body.len() as u64;
        let shoff = phoff + 56 * phdrs.len() as u64;

        let mut f = Vec::new();
        f.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        f.extend_from_slice(&e_type.to_le_bytes());
        f.extend_from_slice(&machine.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes()); // entry
        f.extend_from_slice(&(if phdrs.is_empty() { 0 } else { phoff }).to_le_bytes());
        f.extend_from_slice(&shoff.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes()); // flags
        f.extend_from_slice(&64u16.to_le_bytes());
        f.extend_from_slice(&56u16.to_le_bytes());
        f.extend_from_slice(&(phdrs.len() as u16).to_le_bytes());
        f.extend_from_slice(&64u16.to_le_bytes());
        f.extend_from_slice(&(shdrs.len() as u16).to_le_bytes());
        f.extend_from_slice(&((shdrs.len() - 1) as u16).to_le_bytes());
        assert_eq!(f.len(), 64);
        f.extend_from_slice(&body);
        for (t, off, size) in phdrs {
            f.extend_from_slice(&t.to_le_bytes());
            f.extend_from_slice(&0u32.to_le_bytes());
            f.extend_from_slice(&off.to_le_bytes());
            f.extend_from_slice(&[0u8; 16]); // vaddr, paddr
            f.extend_from_slice(&size.to_le_bytes());
            f.extend_from_slice(&size.to_le_bytes());
            f.extend_from_slice(&4u64.to_le_bytes());
        }
        for (name, t, off, size) in shdrs {
            f.extend_from_slice(&name.to_le_bytes());
            f.extend_from_slice(&t.to_le_bytes());
            f.extend_from_slice(&[0u8; 16]); // flags, addr
            f.extend_from_slice(&off.to_le_bytes());
            f.extend_from_slice(&size.to_le_bytes());
            f.extend_from_slice(&[0u8; 24]); // link, info, align, entsize
        }
        f
    }

    /// One note, encoded.
    pub fn note(name: &[u8], n_type: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((name.len() + 1) as u32).to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&n_type.to_le_bytes());
        v.extend_from_slice(name);
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(desc);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn parses_header_notes_and_sections() {
        let mut notes = note(b"Xen", 18, &[1, 2, 3, 4]);
        notes.extend(note(b"GNU", 3, b"build-id"));
        let f = build(
            ET_EXEC,
            EM_X86_64,
            Some(&notes),
            false,
            &[TestSection {
                name: ".modinfo",
                data: b"a=b\0",
            }],
        );
        let elf = Elf::parse(&f).unwrap();
        assert_eq!(elf.e_machine, EM_X86_64);
        assert_eq!(elf.e_type, ET_EXEC);
        assert!(!elf.has_interpreter().unwrap());
        let n = elf.notes().unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].name, b"Xen");
        assert_eq!(n[0].n_type, 18);
        assert_eq!(n[0].desc, &[1, 2, 3, 4]);
        assert_eq!(n[1].name, b"GNU");
        assert_eq!(elf.section_data(".modinfo").unwrap(), Some(&b"a=b\0"[..]));
        assert_eq!(elf.section_data(".nope").unwrap(), None);
    }

    #[test]
    fn interpreter_is_seen() {
        let f = build(ET_DYN, EM_AARCH64, None, true, &[]);
        assert!(Elf::parse(&f).unwrap().has_interpreter().unwrap());
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        assert!(Elf::parse(b"MZ not an elf").is_err());
        let mut f = build(
            ET_EXEC,
            EM_X86_64,
            Some(&note(b"Xen", 18, &[0; 4])),
            false,
            &[],
        );
        // Point the program headers past the end.
        f[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        let elf = Elf::parse(&f).unwrap();
        assert!(elf.program_headers().is_err());
        let mut f2 = build(ET_EXEC, EM_X86_64, None, false, &[]);
        f2.truncate(70);
        assert!(Elf::parse(&f2).unwrap().sections().is_err());
    }
}
