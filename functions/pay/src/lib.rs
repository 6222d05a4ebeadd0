//! Handler.
