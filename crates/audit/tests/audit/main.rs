//! gatehouse-audit against the outside world: the transparency-dev/merkle test vectors, the RFC's
//! own definitions, the reference Go port (`tlog_tiles`), and hostile signed notes and leaves.

mod checkpoints;
mod exhaustive;
mod leaves;
mod vectors;
