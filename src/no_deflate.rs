//! A build without the `deflate` feature: the engine implements no extension, so no
//! handle ever holds compression state. The types are empty, and the handle's
//! compression paths compile away.

use crate::error::Result;
use crate::http::HttpHeader;

/// What is in force once permessage-deflate is agreed: never, in this build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Agreed {}

/// A handle's compression state: never, in this build.
#[derive(Debug)]
pub(crate) enum Streams {}

/// The bytes of a send to compress.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug)]
pub(crate) enum Piece<'a> {
    Bytes(&'a [u8]),
    Inflated(usize, usize),
}

/// What one inflate step did.
#[allow(dead_code)]
pub(crate) struct Inflated {
    pub(crate) consumed: usize,
    pub(crate) produced: usize,
    pub(crate) message_end: bool,
}

pub(crate) fn check_offers(_: &[&str]) -> Result<()> {
    Ok(())
}

pub(crate) fn client_accepts(_: &[String], _: &[u8]) -> Option<Result<(usize, Agreed)>> {
    None
}

pub(crate) fn server_selects(_: &[HttpHeader<'_>], _: &[u8]) -> Option<Result<Agreed>> {
    None
}

impl Streams {
    pub(crate) fn new(agreed: Agreed, _: u32, _: u32, _: usize) -> Self {
        match agreed {}
    }
    pub(crate) fn message_started(&mut self, _: bool) {
        match *self {}
    }
    pub(crate) fn inflate(&mut self, _: &[u8], _: usize, _: usize, _: bool) -> Result<Inflated> {
        match *self {}
    }
    pub(crate) fn compress(&mut self, _: Piece<'_>, _: bool, _: bool) -> Result<bool> {
        match *self {}
    }
    pub(crate) fn stage_inflated(&mut self, _: usize, _: usize) {
        match *self {}
    }
    pub(crate) fn staged_done(&mut self) {
        match *self {}
    }
    pub(crate) fn receiving(&self) -> bool {
        match *self {}
    }
    pub(crate) fn message_out(&self) -> u64 {
        match *self {}
    }
    pub(crate) fn inflated(&self) -> &[u8] {
        match *self {}
    }
    pub(crate) fn staged(&self) -> &[u8] {
        match *self {}
    }
}
