//! Classic BPF programs put together in code, for the kernel to run on every frame of a live
//! capture: jumps to named places, checked when the program is finished.
//!
//! Why not libpcap's compiler: a live worker rebuilds its capture filter each time it finds an
//! elephant flow (see [`super::shunt`]), and libpcap takes milliseconds to compile and optimise
//! a filter of a few dozen flows, on the worker's own time. The part that changes is a fixed
//! shape that needs no optimiser, so it is assembled here in microseconds, and the user's filter,
//! compiled by libpcap once when the capture opens, is appended to it unchanged (its jumps are
//! relative, so it runs the same wherever it starts).

use libc::sock_filter;

/// Why a program could not be finished: a mistake of the code that assembled it, or a program
/// longer than the kernel runs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BpfError {
    #[error("BPF: a label was never bound")]
    Unbound,
    #[error("BPF: a jump backwards")]
    Backwards,
    #[error("BPF: a jump too far")]
    TooFar,
    #[error("BPF: a conditional jump too far")]
    CondTooFar,
    #[error("BPF: {0} instructions, more than the kernel's {MAX_INSNS}")]
    TooLong(usize),
}

/// libc's names for instruction classes, sizes, modes and operations (linux/filter.h) are
/// `u32`; an instruction's code is a `u16`.
macro_rules! codes {
    ($($name:ident = $libc:ident),* $(,)?) => {
        $(pub const $name: u16 = libc::$libc as u16;)*
    };
}

codes!(
    LD = BPF_LD,
    LDX = BPF_LDX,
    ST = BPF_ST,
    STX = BPF_STX,
    ALU = BPF_ALU,
    JMP = BPF_JMP,
    RET = BPF_RET,
    MISC = BPF_MISC,
    W = BPF_W,
    H = BPF_H,
    B = BPF_B,
    IMM = BPF_IMM,
    ABS = BPF_ABS,
    IND = BPF_IND,
    MEM = BPF_MEM,
    LEN = BPF_LEN,
    MSH = BPF_MSH,
    ADD = BPF_ADD,
    SUB = BPF_SUB,
    MUL = BPF_MUL,
    DIV = BPF_DIV,
    OR = BPF_OR,
    AND = BPF_AND,
    LSH = BPF_LSH,
    RSH = BPF_RSH,
    NEG = BPF_NEG,
    MOD = BPF_MOD,
    XOR = BPF_XOR,
    JA = BPF_JA,
    JEQ = BPF_JEQ,
    JGT = BPF_JGT,
    JGE = BPF_JGE,
    JSET = BPF_JSET,
    K = BPF_K,
    X = BPF_X,
    A = BPF_A,
    TAX = BPF_TAX,
    TXA = BPF_TXA,
);

/// Words of scratch memory a program has (`M[0]` to `M[15]`).
pub const MEMWORDS: u32 = libc::BPF_MEMWORDS as u32;
/// Most instructions the kernel takes in one program.
pub const MAX_INSNS: usize = libc::BPF_MAXINSNS as usize;

/// A place in a program, bound to an instruction once, jumped to from before it.
#[derive(Clone, Copy, Debug)]
pub struct Label(usize);

enum Jump {
    Cond(Label, Label),
    Always(Label),
}

/// A program being written.
#[derive(Default)]
pub struct Asm {
    insns: Vec<sock_filter>,
    jumps: Vec<(usize, Jump)>,
    labels: Vec<Option<usize>>,
}

fn insn(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

impl Asm {
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Binds `l` to the next instruction written.
    pub fn bind(&mut self, l: Label) {
        if let Some(slot) = self.labels.get_mut(l.0) {
            *slot = Some(self.insns.len());
        }
    }

    /// An instruction that is not a jump.
    pub fn op(&mut self, code: u16, k: u32) {
        self.insns.push(insn(code, k));
    }

    /// A conditional jump: to `yes` when the test holds, else to `no`.
    pub fn jump(&mut self, test: u16, k: u32, yes: Label, no: Label) {
        self.jumps.push((self.insns.len(), Jump::Cond(yes, no)));
        self.op(JMP | test, k);
    }

    pub fn goto(&mut self, l: Label) {
        self.jumps.push((self.insns.len(), Jump::Always(l)));
        self.op(JMP | JA, 0);
    }

    /// Goes on when the test holds, else jumps to `far` (any distance: a conditional jump
    /// reaches 255 instructions at most).
    pub fn unless(&mut self, test: u16, k: u32, far: Label) {
        self.far(test, k, far, false);
    }

    /// Jumps to `far` when the test holds, else goes on.
    pub fn when(&mut self, test: u16, k: u32, far: Label) {
        self.far(test, k, far, true);
    }

    /// A conditional jump over a jump to `far`.
    fn far(&mut self, test: u16, k: u32, far: Label, when: bool) {
        let (on, out) = (self.label(), self.label());
        let (yes, no) = if when { (out, on) } else { (on, out) };
        self.jump(test, k, yes, no);
        self.bind(out);
        self.goto(far);
        self.bind(on);
    }

    /// Instructions from elsewhere (a program of libpcap's), as they are.
    pub fn extend(&mut self, insns: &[sock_filter]) {
        self.insns.extend_from_slice(insns);
    }

    /// The program, its jumps resolved. Fails if a label was never bound, a jump goes
    /// backwards (the kernel allows none) or too far, or the program is too long.
    pub fn finish(mut self) -> Result<Vec<sock_filter>, BpfError> {
        let target = |labels: &[Option<usize>], from: usize, l: Label| -> Result<u32, BpfError> {
            let to = labels.get(l.0).copied().flatten().ok_or(BpfError::Unbound)?;
            let off = to.checked_sub(from + 1).ok_or(BpfError::Backwards)?;
            u32::try_from(off).map_err(|_| BpfError::TooFar)
        };
        for (at, jump) in &self.jumps {
            let at = *at;
            match *jump {
                Jump::Always(l) => self.insns[at].k = target(&self.labels, at, l)?,
                Jump::Cond(yes, no) => {
                    let short = |off: u32| u8::try_from(off).map_err(|_| BpfError::CondTooFar);
                    self.insns[at].jt = short(target(&self.labels, at, yes)?)?;
                    self.insns[at].jf = short(target(&self.labels, at, no)?)?;
                }
            }
        }
        if self.insns.len() > MAX_INSNS {
            return Err(BpfError::TooLong(self.insns.len()));
        }
        Ok(self.insns)
    }
}

/// Runs a classic BPF program on `pkt` as the Linux kernel does: the number it returns (bytes
/// kept; 0 drops the frame), and 0 when a load falls outside the frame or a division by zero.
/// Only for tests: it checks programs put together here against libpcap's.
#[cfg(test)]
pub fn run(prog: &[sock_filter], pkt: &[u8]) -> u32 {
    let load = |at: u32, size: u16| -> Option<u32> {
        let at = at as usize;
        let n = match size {
            W => 4,
            H => 2,
            _ => 1,
        };
        let b = pkt.get(at..at.checked_add(n)?)?;
        Some(b.iter().fold(0u32, |v, &x| v << 8 | u32::from(x)))
    };
    let (mut a, mut x, mut m) = (0u32, 0u32, [0u32; MEMWORDS as usize]);
    let mut pc = 0usize;
    while let Some(i) = prog.get(pc) {
        pc += 1;
        let (class, size, mode, op) = (i.code & 0x07, i.code & 0x18, i.code & 0xe0, i.code & 0xf0);
        let src = if i.code & X != 0 { x } else { i.k };
        match class {
            LD | LDX => {
                let v = match mode {
                    IMM => Some(i.k),
                    ABS => load(i.k, size),
                    IND => load(x.wrapping_add(i.k), size),
                    MEM => m.get(i.k as usize).copied(),
                    LEN => Some(pkt.len() as u32),
                    MSH => load(i.k, B).map(|b| (b & 0xf) * 4),
                    _ => None,
                };
                let Some(v) = v else { return 0 };
                if class == LD {
                    a = v;
                } else {
                    x = v;
                }
            }
            ST | STX => {
                let v = if class == ST { a } else { x };
                let Some(slot) = m.get_mut(i.k as usize) else { return 0 };
                *slot = v;
            }
            ALU => {
                a = match op {
                    ADD => a.wrapping_add(src),
                    SUB => a.wrapping_sub(src),
                    MUL => a.wrapping_mul(src),
                    DIV | MOD if src == 0 => return 0,
                    DIV => a / src,
                    MOD => a % src,
                    OR => a | src,
                    AND => a & src,
                    LSH => a.checked_shl(src).unwrap_or(0),
                    RSH => a.checked_shr(src).unwrap_or(0),
                    NEG => a.wrapping_neg(),
                    XOR => a ^ src,
                    _ => return 0,
                };
            }
            JMP => {
                let taken = match op {
                    JA => {
                        pc += i.k as usize;
                        continue;
                    }
                    JEQ => a == src,
                    JGT => a > src,
                    JGE => a >= src,
                    JSET => a & src != 0,
                    _ => return 0,
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            RET => return if i.code & 0x18 == A { a } else { i.k },
            _ => {
                if i.code & 0xf8 == TXA {
                    a = x;
                } else {
                    x = a;
                }
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_are_resolved_relative_to_the_next_instruction() {
        let mut a = Asm::default();
        let (yes, far) = (a.label(), a.label());
        a.op(LD | W | LEN, 0);
        a.jump(JGE, 4, yes, far);
        a.op(RET | K, 1);
        a.bind(yes);
        a.when(JEQ, 6, far);
        a.op(RET | K, 2);
        a.bind(far);
        a.op(RET | K, 3);
        let p = a.finish().unwrap();
        assert_eq!((p[1].jt, p[1].jf), (1, 4));
        assert_eq!(run(&p, &[0; 3]), 3);
        assert_eq!(run(&p, &[0; 4]), 2);
        assert_eq!(run(&p, &[0; 6]), 3);
    }

    #[test]
    fn a_backward_or_unbound_or_too_long_jump_is_refused() {
        let mut a = Asm::default();
        let back = a.label();
        a.bind(back);
        a.op(LD | W | LEN, 0);
        a.goto(back);
        assert_eq!(a.finish().unwrap_err(), BpfError::Backwards);
        let mut a = Asm::default();
        let (l, nowhere) = (a.label(), a.label());
        a.jump(JEQ, 0, l, nowhere);
        a.bind(l);
        assert_eq!(a.finish().unwrap_err(), BpfError::Unbound);
        let mut a = Asm::default();
        let (near, far) = (a.label(), a.label());
        a.jump(JEQ, 0, near, far);
        a.bind(near);
        for _ in 0..256 {
            a.op(LD | W | LEN, 0);
        }
        a.bind(far);
        assert!(a.finish().unwrap_err().to_string().contains("too far"));
        // `unless` and `when` reach any distance.
        let mut a = Asm::default();
        let far = a.label();
        a.unless(JEQ, 0, far);
        for _ in 0..1000 {
            a.op(LD | W | LEN, 0);
        }
        a.bind(far);
        a.op(RET | K, 7);
        assert_eq!(run(&a.finish().unwrap(), &[1]), 7);
    }
}
