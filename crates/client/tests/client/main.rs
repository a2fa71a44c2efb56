//! The client against real servers: every failure a person can meet is told apart.

mod audit;
mod classify;
mod identity;
