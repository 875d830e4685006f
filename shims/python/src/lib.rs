//! `relay_transport._core`: the relay core for Python, sans-IO.
//!
//! [`RelayMachine`](machine::PyRelayMachine) is core's gateway machine with
//! time as float seconds and actions as tuples; [`ReconnectPolicy`](reconnect::PyReconnectPolicy)
//! is core's dial policy; the functions are core's pure policies. The asyncio
//! shim in `relay_transport` drives them; it holds no protocol rule of its own.
#![forbid(unsafe_code)]

mod actions;
mod clock;
mod convert;
mod helpers;
mod machine;
mod reconnect;
mod shapes;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _core,
    RequestRefused,
    PyException,
    "A command the machine could not take: args (text, ambiguous)."
);
create_exception!(
    _core,
    TokenRejected,
    PyException,
    "An upgrade token was refused: args[0] is `expired` or `unauthorized`."
);

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<machine::PyRelayMachine>()?;
    m.add_class::<reconnect::PyReconnectPolicy>()?;
    m.add_class::<helpers::PyInboundDedupe>()?;
    m.add_function(wrap_pyfunction!(helpers::session_key, m)?)?;
    m.add_function(wrap_pyfunction!(helpers::normalize_url, m)?)?;
    m.add_function(wrap_pyfunction!(helpers::mint_token, m)?)?;
    m.add_function(wrap_pyfunction!(helpers::verify_token, m)?)?;
    m.add_function(wrap_pyfunction!(helpers::chat_info, m)?)?;
    m.add("RequestRefused", m.py().get_type::<RequestRefused>())?;
    m.add("TokenRejected", m.py().get_type::<TokenRejected>())?;
    m.add("DEFAULT_MAX_LINE", relay_core::wire::DEFAULT_MAX_LINE)?;
    Ok(())
}
