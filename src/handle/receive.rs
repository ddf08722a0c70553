//! The receive side of a handle: `receive`, the parse of received bytes into indications,
//! automatic pongs, and the receive buffer with the bytes pushed beside it.

#[allow(clippy::wildcard_imports)]
use super::*;

/// What [`Handle::inflate_step`] came to.
enum InflateStep {
    /// A piece of `len` inflated bytes to indicate.
    Piece { ty: BufferType, len: usize },
    /// The frame is done and the message goes on: decode the next header.
    NextFrame,
    /// More of the frame's payload is needed.
    NeedBytes,
}

impl<B: AsRef<[u8]>, C> Handle<B, C> {
    /// `WebSocketReceive`: queues one receive operation. With `None`, data is indicated
    /// in place in the receive buffer (zero copy); with `Some(buffer)`, it is copied
    /// into `buffer` (up to its capacity, which must be at least 125 bytes; its
    /// contents are replaced) and the buffer comes back in the indication.
    ///
    /// One receive may be outstanding: until its `IndicateReceiveComplete` is completed.
    /// After the receive side failed on the peer's data, a receive fails with
    /// [`Error::ReceiveAfterFailure`] (`E_INVALID_PROTOCOL_OPERATION`, reference §5.8);
    /// `get_action` on the receive queue keeps reporting the failure itself.
    pub fn receive(&mut self, buffer: Option<Vec<u8>>, context: C) -> Result<()> {
        self.session.check_session("receive")?;
        self.session.check_receive()?;
        if self.receive_op.is_some() || self.receive_flight.is_some() {
            return Err(Error::ReceiveOutstanding);
        }
        if let Some(b) = &buffer
            && b.capacity() < MIN_CALLER_RECEIVE_BUFFER
        {
            return Err(Error::ReceiveBufferTooSmall { capacity: b.capacity(), min: MIN_CALLER_RECEIVE_BUFFER });
        }
        self.enter_session();
        // Matching first stores `None` as a constant rather than copying the argument
        // (which the caller wrote narrower than the copy reads: a forwarding stall).
        #[allow(clippy::needless_match, clippy::manual_map)]
        let buffer = match buffer {
            None => None,
            Some(b) => Some(b),
        };
        self.receive_op = Some(ReceiveOp { buffer, context });
        Ok(())
    }

    /// wsengine extension: bytes of the WebSocket stream that the host already read
    /// (typically those behind the HTTP head, see
    /// [`HeadParser::rest`](crate::HeadParser::rest)). They are copied and consumed
    /// before anything is read from the network. Allowed in any state but aborted;
    /// ignored once the receive side is over.
    pub fn push_received(&mut self, bytes: &[u8]) -> Result<()> {
        if self.session.is_aborted() {
            return Err(Error::Aborted);
        }
        if !self.from_spill && self.spill_pos == self.spill.len() {
            self.spill.clear();
            self.spill_pos = 0;
        }
        if self.spill.capacity() == 0 {
            self.spill = crate::pool::take_empty(bytes.len());
        }
        self.spill.extend_from_slice(bytes);
        if self.from_spill {
            self.rend = self.spill.len();
        }
        Ok(())
    }

    /// [`push_received`](Self::push_received) for bytes in a `Vec`: taken over, not
    /// copied, when the bytes pushed before have been consumed.
    pub fn push_received_vec(&mut self, bytes: Vec<u8>) -> Result<()> {
        if self.session.is_aborted() {
            return Err(Error::Aborted);
        }
        if self.from_spill || self.spill_pos < self.spill.len() {
            return self.push_received(&bytes);
        }
        self.spill = bytes;
        self.spill_pos = 0;
        Ok(())
    }

    pub(super) fn hand_out_pong(&mut self) -> Action<'_, B, C> {
        let Some(len) = self.pong.take() else { return Action::NoAction };
        let serial = self.next_serial();
        self.receive_flight = Some(Flight::Pong { len, serial });
        let c = self.control_start();
        Action::SendToNetwork {
            buffer_type: BufferType::PingPong,
            buffers: SendBuffers::new(&self.buf[c..c + len], &[]),
            context: None,
            action: ActionContext { queue: ActionQueue::Receive, serial },
        }
    }

    /// Drops an automatic pong not yet handed out (the connection layer, once it reads
    /// no more): a close queued behind it can then go.
    pub(crate) fn cancel_pong(&mut self) {
        self.pong = None;
        self.last_ping = None;
    }

    /// The payload of the ping the last automatic pong answers, once: valid until the
    /// receive queue moves on.
    pub(crate) fn take_last_ping(&mut self) -> Option<(usize, usize)> {
        self.last_ping.take()
    }

    /// Received bytes (a range this handle reported).
    pub(crate) fn received(&self, (start, end): (usize, usize)) -> &[u8] {
        &self.rx()[start..end]
    }

    /// Takes back the RECEIVE_FROM_NETWORK action in flight, if any, unread: the
    /// connection layer pushes what it was handed instead.
    pub(crate) fn withdraw_read(&mut self) {
        if matches!(self.receive_flight, Some(Flight::Read { .. })) {
            self.receive_flight = None;
        }
    }

    /// Completes the receive indication in flight, if any: `complete_action` for the
    /// connection layer, which knows the token is its own (a message's fast path).
    pub(crate) fn release_indication(&mut self) {
        if matches!(self.receive_flight, Some(Flight::Indicate { .. })) {
            self.receive_flight = None;
        }
    }

    /// Queues a receive into the handle's own buffer unless one is outstanding or the
    /// receive side is over: `receive(None, ..)` for the connection layer, whose session
    /// is open (a message's fast path).
    pub(crate) fn queue_receive(&mut self, context: C) {
        if self.receive_op.is_none() && self.receive_flight.is_none() && self.session.check_receive().is_ok() {
            self.receive_op = Some(ReceiveOp { buffer: None, context });
        }
    }

    /// The RECEIVE_FROM_NETWORK action in flight, if any.
    pub(crate) fn read_in_flight(&self) -> Option<ActionContext> {
        match self.receive_flight {
            Some(Flight::Read { serial, .. }) => Some(ActionContext { queue: ActionQueue::Receive, serial }),
            _ => None,
        }
    }

    /// Bytes handed over by `push_received` and not yet consumed (or, for those parsed
    /// where they lie, not yet moved into the receive area).
    pub(crate) fn spilled(&self) -> usize {
        if self.from_spill { self.rend - self.rpos } else { self.spill.len() - self.spill_pos }
    }

    /// True unless UTF-8 verification was disabled.
    pub(crate) fn verifies_utf8(&self) -> bool {
        self.config.verify_utf8
    }

    /// The data of the last zero-copy receive indication, while it is in flight (the
    /// connection layer reads it after the action's borrow has ended).
    pub(crate) fn indicated(&self) -> &[u8] {
        let (start, end) = self.last_indicated;
        self.piece(self.indicated_inflated, start, end)
    }

    /// `start..end` of the received bytes, or of the inflate area.
    pub(super) fn piece(&self, inflated: bool, start: usize, end: usize) -> &[u8] {
        match self.deflate.as_deref() {
            Some(d) if inflated => &d.inflated()[start..end],
            _ => &self.rx()[start..end],
        }
    }

    /// Indicates the outstanding receive as over with nothing received.
    fn cancel_receive(&mut self) -> Action<'_, B, C> {
        self.indicate(None, 0, 0, None)
    }

    fn fail(&mut self, e: Error) -> Error {
        self.session.receive_failed(e);
        e
    }

    fn expect_mask(&self) -> Option<bool> {
        match self.role {
            Role::Client => Some(false),
            Role::Server if self.config.disable_masking => None,
            Role::Server => Some(true),
        }
    }

    /// The most bytes one indicated piece may hold: the receive buffer size, or less when
    /// the receive operation brought a smaller buffer of its own.
    fn piece_cap(&self) -> usize {
        let own = self.receive_op.as_ref().and_then(|op| op.buffer.as_ref()).map_or(usize::MAX, Vec::capacity);
        own.min(self.config.receive_buffer_size)
    }

    pub(super) fn next_receive_action(&mut self) -> Result<Action<'_, B, C>> {
        if self.receive_flight.is_some() || self.receive_op.is_none() {
            return Ok(Action::NoAction);
        }
        if self.session.is_aborted() {
            return Ok(self.cancel_receive());
        }
        match self.session.receive_error() {
            None => {}
            Some(Error::ConnectionClosed) => return Ok(self.cancel_receive()),
            Some(e) => return Err(*e),
        }
        if self.send_op.as_ref().is_some_and(|op| matches!(op.source, Source::Received { .. })) {
            // A send is reading the last piece out of the receive area: wait for it.
            return Ok(Action::NoAction);
        }
        // From here the received bytes may change: the last piece and ping are gone.
        self.last_piece = None;
        self.last_ping = None;
        self.indicated_inflated = false;
        loop {
            let f = match self.frame {
                Some(f) => f,
                None => match self.decoder.decode(&rx!(self)[self.rpos..self.rend]) {
                    Err(e) => return Err(self.fail(e)),
                    Ok((used, None)) => {
                        self.rpos += used;
                        if !self.refill() {
                            return Ok(self.read_action());
                        }
                        continue;
                    }
                    Ok((used, Some(header))) => {
                        self.rpos += used;
                        self.start_frame(header).map_err(|e| self.fail(e))?;
                        // Built from the header in registers, not read back from
                        // `self.frame` just written (a store-forwarding stall).
                        InFrame { header, remaining: header.len, offset: 0, unmasked: 0 }
                    }
                },
            };
            if f.header.opcode.is_control() {
                let len = f.header.len as usize;
                if self.rend - self.rpos < len {
                    if !self.refill() {
                        return Ok(self.read_action());
                    }
                    continue;
                }
                let (start, end) = (self.rpos, self.rpos + len);
                self.rpos = end;
                self.frame = None;
                if let Some(key) = f.header.mask {
                    mask::mask_in_place(&mut self.rx_mut()[start..end], key, 0);
                }
                match f.header.opcode {
                    Opcode::Ping => {
                        if !self.session.close_sent() {
                            self.build_pong(start, end);
                            self.last_ping = Some((start, end));
                            if self.send_writing() {
                                return Ok(Action::NoAction);
                            }
                            return Ok(self.hand_out_pong());
                        }
                    }
                    Opcode::Pong => return Ok(self.indicate(Some(BufferType::PingPong), start, end, None)),
                    _ => {
                        let (status, reason_len) =
                            match close::parse_body(&self.rx()[start..end], self.config.verify_utf8) {
                                Ok((status, reason)) => (status, reason.len()),
                                Err(e) => return Err(self.fail(e)),
                            };
                        self.session.close_received();
                        return Ok(self.indicate(Some(BufferType::Close), end - reason_len, end, Some(status)));
                    }
                }
                continue;
            }
            if self.deflate.as_deref().is_some_and(Streams::receiving) {
                match self.inflate_step(f).map_err(|e| self.fail(e))? {
                    InflateStep::Piece { ty, len } => {
                        self.indicated_inflated = true;
                        return Ok(self.indicate(Some(ty), 0, len, None));
                    }
                    InflateStep::NextFrame => continue,
                    InflateStep::NeedBytes => {
                        if !self.refill() {
                            return Ok(self.read_action());
                        }
                        continue;
                    }
                }
            }
            // A data frame: hand over what is here, up to the caller's buffer.
            // At most the receive buffer size, also from bytes parsed where they lie.
            let avail = (self.rend - self.rpos).min(self.piece_cap());
            let n = usize::try_from(f.remaining).map_or(avail, |r| r.min(avail));
            let frame_done = n as u64 == f.remaining;
            let message_done = frame_done && f.header.fin;
            if n == 0 && !message_done {
                if frame_done {
                    // An empty non-final frame: nothing to hand over.
                    self.frame = None;
                    continue;
                }
                if !self.refill() {
                    return Ok(self.read_action());
                }
                continue;
            }
            let (start, end) = (self.rpos, self.rpos + n);
            let text = self.session.receiving_text();
            let check_utf8 = text && self.config.verify_utf8;
            // Unmask in place; for text, learn in the same pass whether it is ASCII, which
            // needs no further validation when no code point is left open before it.
            let ascii = match f.header.mask {
                Some(key) if key != [0; 4] && check_utf8 => {
                    mask::mask_in_place_ascii(&mut self.rx_mut()[start..end], key, f.offset)
                }
                Some(key) if key != [0; 4] => {
                    mask::mask_in_place(&mut self.rx_mut()[start..end], key, f.offset);
                    false
                }
                _ => false,
            };
            let utf8_before = self.receive_utf8;
            if check_utf8 && !(ascii && self.receive_utf8.is_at_boundary()) {
                let piece = &rx!(self)[start..end];
                let r = if message_done { self.receive_utf8.finish(piece) } else { self.receive_utf8.feed(piece) };
                if r.is_err() {
                    return Err(self.fail(Error::InvalidUtf8));
                }
            }
            self.last_piece = Some(LastPiece { start, end, validated: check_utf8, utf8_before, inflated: false });
            self.rpos = end;
            if frame_done {
                self.frame = None;
                if message_done {
                    self.session.message_received();
                }
            } else {
                self.frame = Some(InFrame { remaining: f.remaining - n as u64, offset: f.offset + n, ..f });
            }
            return Ok(self.indicate(Some(BufferType::data(text, message_done)), start, end, None));
        }
    }

    /// One step through a compressed message's frame `f`: inflates what has arrived of
    /// its payload (unmasked in place first) into the inflate area, up to the receive
    /// buffer size or the caller's buffer. The message's size limit counts inflated
    /// bytes, and text is validated as it comes out.
    fn inflate_step(&mut self, f: InFrame) -> Result<InflateStep> {
        let rbs = self.config.receive_buffer_size;
        let cap = self.piece_cap();
        let avail = (self.rend - self.rpos).min(rbs);
        let n = usize::try_from(f.remaining).map_or(avail, |r| r.min(avail));
        let frame_over = n as u64 == f.remaining;
        let last = frame_over && f.header.fin;
        if n == 0 && !last {
            if frame_over {
                self.frame = None;
                return Ok(InflateStep::NextFrame);
            }
            return Ok(InflateStep::NeedBytes);
        }
        if let Some(key) = f.header.mask
            && key != [0; 4]
            && n > f.unmasked
        {
            let (from, to) = (self.rpos + f.unmasked, self.rpos + n);
            mask::mask_in_place(&mut self.rx_mut()[from..to], key, f.offset + f.unmasked);
        }
        let Some(d) = self.deflate.as_deref_mut() else { return Err(Error::InvalidCompressedData) };
        let step = d.inflate(&rx!(self)[self.rpos..self.rpos + n], rbs, cap, last)?;
        if d.message_out() > self.limits.max_size {
            return Err(Error::MessageTooBig { limit: self.limits.max_size });
        }
        if step.produced == 0 && step.consumed < n && !step.message_end {
            // The inflater made no progress with room to write: never with valid data.
            return Err(Error::InvalidCompressedData);
        }
        self.rpos += step.consumed;
        let remaining = f.remaining - step.consumed as u64;
        let unmasked = n.max(f.unmasked) - step.consumed;
        self.frame = if remaining == 0 && (!f.header.fin || step.message_end) {
            None
        } else {
            Some(InFrame { remaining, offset: f.offset + step.consumed, unmasked, ..f })
        };
        if step.produced == 0 && !step.message_end {
            return Ok(if remaining == 0 { InflateStep::NextFrame } else { InflateStep::NeedBytes });
        }
        let text = self.session.receiving_text();
        let check_utf8 = text && self.config.verify_utf8;
        let utf8_before = self.receive_utf8;
        if check_utf8 {
            let piece = &d.inflated()[..step.produced];
            let r = if step.message_end { self.receive_utf8.finish(piece) } else { self.receive_utf8.feed(piece) };
            if r.is_err() {
                return Err(Error::InvalidUtf8);
            }
        }
        self.last_piece =
            Some(LastPiece { start: 0, end: step.produced, validated: check_utf8, utf8_before, inflated: true });
        if step.message_end {
            self.session.message_received();
        }
        Ok(InflateStep::Piece { ty: BufferType::data(text, step.message_end), len: step.produced })
    }

    /// Sets the limits on received messages (connection layer).
    pub(crate) fn set_message_limits(&mut self, limits: MessageLimits) {
        self.limits = limits;
    }

    /// Checks a complete header and makes its frame the current one.
    fn start_frame(&mut self, header: FrameHeader) -> Result<()> {
        frame::check_header(&header, self.allowed_rsv, self.expect_mask())?;
        // RSV1 (permessage-deflate's "compressed") belongs on a message's first frame
        // only, never on a continuation or a control frame (RFC 7692 §6).
        let compressed = header.rsv & 0b100 != 0;
        if compressed && matches!(header.opcode, Opcode::Continuation | Opcode::Close | Opcode::Ping | Opcode::Pong) {
            return Err(Error::ReservedBitsSet { rsv: header.rsv });
        }
        if self.session.frame_started(header.opcode)? {
            self.message_len = 0;
            self.message_frames = 0;
            if let Some(d) = self.deflate.as_deref_mut() {
                d.message_started(compressed);
            }
        }
        if !header.opcode.is_control() {
            self.message_len = self.message_len.saturating_add(header.len);
            self.message_frames = self.message_frames.saturating_add(1);
            if self.message_len > self.limits.max_size {
                return Err(Error::MessageTooBig { limit: self.limits.max_size });
            }
            if self.message_frames > self.limits.max_frames {
                return Err(Error::TooManyFragments { limit: self.limits.max_frames });
            }
        }
        self.frame = Some(InFrame { header, remaining: header.len, offset: 0, unmasked: 0 });
        Ok(())
    }

    /// Builds the pong answering the ping whose payload is `buf[start..end]`.
    fn build_pong(&mut self, start: usize, end: usize) {
        let key = self.masking_key();
        let c = self.control_start();
        let len = end - start;
        let h = frame::encode_header(&mut self.buf[c..], true, 0, Opcode::Pong, key, len as u64);
        let (recv, ctrl) = rx_and_area(&mut self.buf, &self.spill, self.from_spill, self.config.receive_buffer_size, c);
        match key {
            Some(k) => mask::mask_copy(&mut ctrl[h..h + len], &recv[start..end], k, 0),
            None => ctrl[h..h + len].copy_from_slice(&recv[start..end]),
        }
        self.pong = Some(h + len);
    }

    /// Completes the receive operation with `start..end` of the received bytes, or of
    /// the inflate area when `indicated_inflated` was just set (a cancelled one with `ty`
    /// `None` and an empty range).
    fn indicate(
        &mut self,
        ty: Option<BufferType>,
        start: usize,
        end: usize,
        close_status: Option<CloseStatus>,
    ) -> Action<'_, B, C> {
        let Some(op) = self.receive_op.take() else { return Action::NoAction };
        let serial = self.next_serial();
        self.receive_flight = Some(Flight::Indicate { serial });
        let inflated = self.indicated_inflated;
        let data = match op.buffer {
            Some(mut v) => {
                v.clear();
                v.extend_from_slice(self.piece(inflated, start, end));
                self.last_piece = None;
                Received::Owned(v)
            }
            None => {
                self.last_indicated = (start, end);
                Received::Borrowed(self.piece(inflated, start, end))
            }
        };
        Action::IndicateReceiveComplete {
            buffer_type: ty,
            data,
            close_status,
            context: op.context,
            action: ActionContext { queue: ActionQueue::Receive, serial },
        }
    }

    /// The received bytes (see [`rx!`]).
    pub(super) fn rx(&self) -> &[u8] {
        rx!(self)
    }

    fn rx_mut(&mut self) -> &mut [u8] {
        if self.from_spill { &mut self.spill } else { &mut self.buf[..self.config.receive_buffer_size] }
    }

    /// More bytes are needed: takes them from the pushed bytes if any (returns true:
    /// parse again), else lends free space for a read (returns false; hand out
    /// [`Handle::read_action`]).
    fn refill(&mut self) -> bool {
        let rbs = self.config.receive_buffer_size;
        if self.from_spill {
            // The pushed bytes are consumed but for a partial control frame at most:
            // back to the receive area, with that part moved into it.
            let rest = self.rend - self.rpos;
            self.buf[..rest].copy_from_slice(&self.spill[self.rpos..self.rend]);
            self.spill.clear();
            (self.from_spill, self.rpos, self.rend) = (false, 0, rest);
            return true;
        }
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
        } else if self.rend == rbs {
            // Unconsumed bytes are at most a partial control frame: move them down.
            self.buf.copy_within(self.rpos..self.rend, 0);
            self.rend -= self.rpos;
            self.rpos = 0;
        }
        if self.spill_pos < self.spill.len() && self.rend == 0 {
            // The receive area is empty: parse the pushed bytes where they lie.
            (self.from_spill, self.rpos, self.rend, self.spill_pos) = (true, self.spill_pos, self.spill.len(), 0);
            return true;
        }
        if self.spill_pos < self.spill.len() {
            let n = (rbs - self.rend).min(self.spill.len() - self.spill_pos);
            self.buf[self.rend..self.rend + n].copy_from_slice(&self.spill[self.spill_pos..self.spill_pos + n]);
            self.rend += n;
            self.spill_pos += n;
            if self.spill_pos == self.spill.len() {
                // Keep the capacity: a host that pushes every read reuses it.
                self.spill.clear();
                self.spill_pos = 0;
            }
            return true;
        }
        false
    }

    /// Lends the receive buffer's free space for a read.
    fn read_action(&mut self) -> Action<'_, B, C> {
        let serial = self.next_serial();
        let (start, end) = (self.rend, self.config.receive_buffer_size);
        self.receive_flight = Some(Flight::Read { start, end, serial });
        Action::ReceiveFromNetwork {
            buffer: &mut self.buf[start..end],
            action: ActionContext { queue: ActionQueue::Receive, serial },
        }
    }
}
