//! The hart: RV32IMA, Zicsr, Zifencei, Zicntr; M, S and U modes; Sv32.
