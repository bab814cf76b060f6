//! DHCP: `serve --dhcp` against real clients in network namespaces (options
//! only, and full mode), and `dhcp-snippet` against real servers' checkers.

mod full;
mod options_only;
mod snippet;
mod tftp_form;
