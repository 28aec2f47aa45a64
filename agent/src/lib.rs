//! Relais agent.
