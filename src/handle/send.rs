//! The send side of a handle: `send` and its checks, and the frames the send queue hands out.

#[allow(clippy::wildcard_imports)]
use super::*;

impl<B: AsRef<[u8]>, C> Handle<B, C> {
    /// `WebSocketSend`: queues one send operation. Produces no bytes by itself: they
    /// come out of [`get_action`](Self::get_action).
    ///
    /// - Data types take `Some(SendBuffer::Data(payload))` (empty payloads allowed),
    ///   or `Some(SendBuffer::LastReceived)` to send the piece just indicated, from the
    ///   receive buffer. `*Fragment` leaves the message open; the next data send must
    ///   be of the same kind. Text must be UTF-8 (checked across fragments unless UTF-8
    ///   verification is disabled).
    /// - `Close` takes `None` (an empty close body, read by the peer as 1005) or
    ///   `Some(SendBuffer::Close { status, reason })`: a status the wire allows and a
    ///   UTF-8 reason of at most 123 bytes. After it only ping and unsolicited pong.
    /// - `PingPong` (a ping) and `UnsolicitedPong` take `None`.
    ///
    /// One send may be outstanding: until its `IndicateSendComplete` is completed.
    pub fn send(&mut self, buffer_type: BufferType, buffer: Option<SendBuffer<B>>, context: C) -> Result<()> {
        self.queue_send(buffer_type, buffer, context, Sender::Caller)
    }

    /// The connection layer's send: as [`send`](Self::send), as [`Sender::Connection`]
    /// says.
    pub(crate) fn send_from_connection(
        &mut self,
        buffer_type: BufferType,
        buffer: Option<SendBuffer<B>>,
        context: C,
        utf8_after: Option<Utf8Validator>,
    ) -> Result<()> {
        self.queue_send(buffer_type, buffer, context, Sender::Connection { utf8_after })
    }

    fn queue_send(
        &mut self,
        buffer_type: BufferType,
        buffer: Option<SendBuffer<B>>,
        context: C,
        sender: Sender,
    ) -> Result<()> {
        let (continues, source, rsv) = self.accept_send(buffer_type, buffer.as_ref(), sender)?;
        self.send_op = Some(SendOp {
            ty: buffer_type,
            buffer,
            context,
            sent: 0,
            started: false,
            continues,
            finished: false,
            cancelled: false,
            source,
            rsv,
            key: [0; 4],
        });
        Ok(())
    }

    /// The connection layer's fast path for a data send: accepted exactly as
    /// [`send`](Self::send) accepts it, then its whole frame (header and payload, masked
    /// for a client) is appended to `out` at once, with no action round trip. The send
    /// slot must be free; nothing of the send is kept.
    pub(crate) fn send_into(&mut self, ty: BufferType, buffer: Option<SendBuffer<B>>, out: &mut Vec<u8>) -> Result<()> {
        if !ty.is_data() {
            return Err(Error::InvalidBufferType(ty));
        }
        self.buf.ensure();
        let (continues, source, rsv) =
            self.accept_send(ty, buffer.as_ref(), Sender::Connection { utf8_after: None })?;
        let opcode = match (continues, ty.is_text()) {
            (true, _) => Opcode::Continuation,
            (false, true) => Opcode::Text,
            (false, false) => Opcode::Binary,
        };
        let key = self.masking_key();
        let payload: &[u8] = match (source, &buffer) {
            (Source::Buffer, Some(SendBuffer::Data(b))) => b.as_ref(),
            (Source::Received { start, end }, _) => &self.rx()[start..end],
            (Source::Staged, _) => self.staged(),
            _ => &[],
        };
        let start = out.len();
        out.resize(start + frame::MAX_HEADER_LEN, 0);
        let h = frame::encode_header(&mut out[start..], !ty.is_fragment(), rsv, opcode, key, payload.len() as u64);
        out.truncate(start + h);
        match key {
            Some(k) if k != [0; 4] => {
                // Copied, then masked in place (safe code cannot mask into the Vec's
                // uninitialised room in one pass; zero-filling it first costs the same).
                let at = out.len();
                out.extend_from_slice(payload);
                mask::mask_in_place(&mut out[at..], k, 0);
            }
            _ => out.extend_from_slice(payload),
        }
        if source == Source::Staged
            && let Some(d) = self.deflate.as_deref_mut()
        {
            d.staged_done();
        }
        Ok(())
    }

    /// Checks a send and, when it passes, moves the state as accepting it does. Returns
    /// whether its data continues an open message, where its payload lies (compressed
    /// into the staging buffer when permessage-deflate is in force and the message
    /// qualifies), and its frame's RSV bits.
    fn accept_send(
        &mut self,
        buffer_type: BufferType,
        buffer: Option<&SendBuffer<B>>,
        sender: Sender,
    ) -> Result<(bool, Source, u8)> {
        let control_payload = matches!(sender, Sender::Connection { .. });
        self.session.check_session("send")?;
        self.session.check_send(buffer_type)?;
        if self.send_op.is_some() || self.send_flight.is_some() {
            return Err(Error::SendOutstanding);
        }
        match (buffer, buffer_type) {
            (None, t) if t.is_data() => return Err(Error::BufferRequired(t)),
            (Some(SendBuffer::Data(p)), BufferType::PingPong | BufferType::UnsolicitedPong)
                if control_payload && p.as_ref().len() > MAX_CONTROL_PAYLOAD =>
            {
                return Err(Error::ControlPayloadTooLong(p.as_ref().len()));
            }
            (Some(SendBuffer::Data(_)), BufferType::PingPong | BufferType::UnsolicitedPong) if control_payload => {}
            (Some(_), BufferType::PingPong | BufferType::UnsolicitedPong) => {
                return Err(Error::BufferNotAllowed(buffer_type));
            }
            (Some(SendBuffer::Close { .. }), t) if t != BufferType::Close => return Err(Error::BufferShapeMismatch(t)),
            (Some(SendBuffer::Data(_) | SendBuffer::LastReceived), BufferType::Close) => {
                return Err(Error::BufferShapeMismatch(buffer_type));
            }
            (Some(SendBuffer::Close { status, reason }), _) => {
                close::check_outgoing(*status, reason.as_ref(), self.config.verify_utf8)?;
            }
            (Some(SendBuffer::LastReceived), _) if self.last_piece.is_none() => return Err(Error::NoReceivedPiece),
            _ => {}
        }
        let received = match buffer {
            Some(SendBuffer::LastReceived) => self.last_piece,
            _ => None,
        };
        if let Sender::Connection { utf8_after: Some(v) } = sender {
            // Checked by the connection when it queued the send, from the state this one
            // is in now: not a second pass.
            self.send_utf8 = v;
        } else if buffer_type.is_text() && self.config.verify_utf8 {
            // Validate on a copy: a rejected piece must not move the state.
            let mut v = self.send_utf8;
            let ok = match (received, buffer) {
                // A piece the engine validated on receipt, from the state this send is
                // in: its end state is known without a second pass.
                (Some(p), _) if p.validated && p.utf8_before == v => {
                    v = self.receive_utf8;
                    if buffer_type.is_fragment() || v.is_at_boundary() { Ok(()) } else { Err(()) }
                }
                (_, Some(SendBuffer::Data(payload))) => {
                    if buffer_type.is_fragment() {
                        v.feed(payload.as_ref())
                    } else {
                        v.finish(payload.as_ref())
                    }
                }
                (_, _) => {
                    let piece = received.map_or(&[][..], |p| self.piece(p.inflated, p.start, p.end));
                    if buffer_type.is_fragment() { v.feed(piece) } else { v.finish(piece) }
                }
            };
            if ok.is_err() {
                return Err(Error::InvalidOutgoingUtf8);
            }
            if !buffer_type.is_fragment() {
                v = Utf8Validator::new();
            }
            self.send_utf8 = v;
        }
        let (source, rsv) = self.stage(buffer_type, buffer, received)?;
        self.enter_session();
        let continues = self.session.send_accepted(buffer_type);
        Ok((continues, source, rsv))
    }

    /// Where an accepted send's payload lies, and its frame's RSV bits: with
    /// permessage-deflate in force, a data send is compressed into the staging buffer
    /// (RSV1 on the message's first frame) unless it is a short whole message; an
    /// inflated piece sent back uncompressed is copied there (the inflate area moves on).
    fn stage(
        &mut self,
        ty: BufferType,
        buffer: Option<&SendBuffer<B>>,
        received: Option<LastPiece>,
    ) -> Result<(Source, u8)> {
        let plain = match received {
            Some(p) if !p.inflated => Source::Received { start: p.start, end: p.end },
            _ => Source::Buffer,
        };
        let Some(d) = self.deflate.as_deref_mut() else { return Ok((plain, 0)) };
        if !ty.is_data() {
            return Ok((plain, 0));
        }
        let piece = match (buffer, received) {
            (Some(SendBuffer::Data(b)), _) => deflate::Piece::Bytes(b.as_ref()),
            (_, Some(p)) if p.inflated => deflate::Piece::Inflated(p.start, p.end),
            (_, Some(p)) => deflate::Piece::Bytes(&rx!(self)[p.start..p.end]),
            _ => deflate::Piece::Bytes(&[]),
        };
        let first = !self.session.continues_message(ty);
        if d.compress(piece, first, !ty.is_fragment())? {
            return Ok((Source::Staged, if first { 0b100 } else { 0 }));
        }
        match received {
            Some(p) if p.inflated => {
                d.stage_inflated(p.start, p.end);
                Ok((Source::Staged, 0))
            }
            _ => Ok((plain, 0)),
        }
    }

    fn send_start(&self) -> usize {
        self.config.receive_buffer_size
    }

    pub(super) fn control_start(&self) -> usize {
        self.config.receive_buffer_size + self.config.send_buffer_size
    }

    /// True while the send side is writing: a SEND_TO_NETWORK of the send queue is in
    /// flight, or a data frame is partly written (its payload continues over more
    /// actions). An automatic pong waits meanwhile, and the send queue waits while a pong
    /// is out ([`send_ready`](Self::send_ready)): at most one SEND_TO_NETWORK is
    /// outstanding, so a pong can land neither inside a frame nor beside one, whatever
    /// order the host completes its writes in. (Reference §8.2 allows a pong beside a
    /// frame's last action, for hosts that write whole actions in the order handed out.)
    pub(super) fn send_writing(&self) -> bool {
        if matches!(self.send_flight, Some(Flight::Frame { .. })) {
            return true;
        }
        let Some(op) = &self.send_op else { return false };
        if op.finished || !op.ty.is_data() || !op.started {
            return false;
        }
        op.sent < op.payload(self.rx(), self.staged()).len()
    }

    /// True when the send queue has an action to hand out now. No frame goes out while
    /// an automatic pong's SEND_TO_NETWORK is outstanding (reference §8.2: the send
    /// queue says NO_ACTION), so a host that writes actions as they come cannot put a
    /// frame beside the pong; and a frame built in the control area (a close, a ping or
    /// pong with a payload) also waits while a pong is built there and not yet handed out.
    pub(super) fn send_ready(&self) -> bool {
        let Some(op) = &self.send_op else { return false };
        let in_control_area = op.ty == BufferType::Close || (!op.ty.is_data() && op.buffer.is_some());
        let pong_out = matches!(self.receive_flight, Some(Flight::Pong { .. }));
        let frame_waits =
            !op.finished && !self.session.is_aborted() && (pong_out || (in_control_area && self.pong.is_some()));
        self.send_flight.is_none() && !frame_waits
    }

    pub(super) fn masking_key(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Server => None,
            Role::Client if self.config.disable_masking => Some([0; 4]),
            Role::Client => Some(self.keys.as_mut().map_or([0; 4], KeySource::key)),
        }
    }

    pub(super) fn frame_buffers(&self, first: (usize, usize), payload: Payload) -> SendBuffers<'_> {
        let second: &[u8] = match (payload, &self.send_op) {
            (Payload::Caller { start, end }, Some(op)) => &op.payload(self.rx(), self.staged())[start..end],
            _ => &[],
        };
        SendBuffers::new(&self.buf[first.0..first.1], second)
    }

    pub(super) fn next_send_action(&mut self) -> Action<'_, B, C> {
        let aborted = self.session.is_aborted();
        let Some(op) = self.send_op.as_mut() else { return Action::NoAction };
        if aborted && !op.finished {
            op.finished = true;
            op.cancelled = true;
        }
        if op.finished {
            let serial = self.next_serial();
            self.send_flight = Some(Flight::Indicate { serial });
            let Some(op) = self.send_op.take() else { return Action::NoAction };
            return Action::IndicateSendComplete {
                buffer_type: op.ty,
                buffer: op.buffer,
                context: op.context,
                completed: !op.cancelled,
                action: ActionContext { queue: ActionQueue::Send, serial },
            };
        }
        let ty = op.ty;
        let flight = match ty {
            BufferType::Close => self.build_control_frame(Opcode::Close),
            BufferType::PingPong | BufferType::UnsolicitedPong if op.buffer.is_some() => {
                self.build_control_frame(if ty == BufferType::PingPong { Opcode::Ping } else { Opcode::Pong })
            }
            BufferType::PingPong | BufferType::UnsolicitedPong => {
                let opcode = if ty == BufferType::PingPong { Opcode::Ping } else { Opcode::Pong };
                let key = self.masking_key();
                let s = self.send_start();
                let n = frame::encode_header(&mut self.buf[s..], true, 0, opcode, key, 0);
                Flight::Frame { first: (s, s + n), payload: Payload::None, advance: 0, serial: 0 }
            }
            _ => self.build_data_frame(),
        };
        let serial = self.next_serial();
        let flight = match flight {
            Flight::Frame { first, payload, advance, .. } => Flight::Frame { first, payload, advance, serial },
            other => other,
        };
        self.send_flight = Some(flight);
        let action = ActionContext { queue: ActionQueue::Send, serial };
        let Flight::Frame { first, payload, .. } = flight else { return Action::NoAction };
        Action::SendToNetwork {
            buffer_type: ty,
            buffers: self.frame_buffers(first, payload),
            context: self.send_op.as_ref().map(|op| &op.context),
            action,
        }
    }

    /// Builds the next action of the send operation's data frame. Every data send is
    /// one frame whose header carries the whole length (reference §8.2): a masking
    /// client copies and masks the payload through its send area, the header in front
    /// of the first chunk, so a payload larger than the send buffer continues over
    /// several actions; a server (or a zero key) sends the header, then the caller's
    /// bytes where they are.
    fn build_data_frame(&mut self) -> Flight {
        let sbs = self.config.send_buffer_size;
        let s = self.send_start();
        let fresh = self.send_op.as_ref().is_some_and(|op| !op.started);
        let key = if fresh { self.masking_key() } else { None };
        let Some(op) = self.send_op.as_mut() else { return Flight::Indicate { serial: 0 } };
        // The received bytes (where a LastReceived piece lies) and the send area are
        // disjoint, so the piece can be masked straight into the send area.
        let (received, send_area) =
            rx_and_area(&mut self.buf, &self.spill, self.from_spill, self.config.receive_buffer_size, s);
        let staged = self.deflate.as_deref().map_or(&[][..], Streams::staged);
        let payload = op.payload(received, staged);
        let remaining = payload.len() - op.sent;
        let opcode = if op.continues {
            Opcode::Continuation
        } else if op.ty.is_text() {
            Opcode::Text
        } else {
            Opcode::Binary
        };
        let fin = !op.ty.is_fragment();
        if !fresh {
            // The frame's payload continues: no header, the same key, masked from where
            // the last chunk stopped.
            let chunk = remaining.min(sbs);
            mask::mask_copy(&mut send_area[..chunk], &payload[op.sent..op.sent + chunk], op.key, op.sent);
            return Flight::Frame { first: (s, s + chunk), payload: Payload::None, advance: chunk, serial: 0 };
        }
        match key {
            Some(k) if k != [0; 4] => {
                let h = frame::encode_header(send_area, fin, op.rsv, opcode, key, remaining as u64);
                let chunk = remaining.min(sbs - h);
                mask::mask_copy(&mut send_area[h..h + chunk], &payload[..chunk], k, 0);
                op.key = k;
                Flight::Frame { first: (s, s + h + chunk), payload: Payload::None, advance: chunk, serial: 0 }
            }
            _ => {
                let h = frame::encode_header(send_area, fin, op.rsv, opcode, key, remaining as u64);
                let payload = Payload::Caller { start: op.sent, end: payload.len() };
                Flight::Frame { first: (s, s + h), payload, advance: remaining, serial: 0 }
            }
        }
    }

    /// Builds a close frame, or a ping or pong with a payload, into the control area.
    fn build_control_frame(&mut self, opcode: Opcode) -> Flight {
        let key = self.masking_key();
        let c = self.control_start();
        let mut body = [0u8; MAX_CONTROL_PAYLOAD];
        let body_len = match self.send_op.as_ref().and_then(|op| op.buffer.as_ref()) {
            Some(SendBuffer::Close { status, reason }) => {
                let reason = reason.as_ref();
                body[..2].copy_from_slice(&status.0.to_be_bytes());
                body[2..2 + reason.len()].copy_from_slice(reason);
                2 + reason.len()
            }
            Some(SendBuffer::Data(payload)) => {
                let payload = payload.as_ref();
                body[..payload.len()].copy_from_slice(payload);
                payload.len()
            }
            _ => 0,
        };
        let h = frame::encode_header(&mut self.buf[c..], true, 0, opcode, key, body_len as u64);
        let dst = &mut self.buf[c + h..c + h + body_len];
        match key {
            Some(k) => mask::mask_copy(dst, &body[..body_len], k, 0),
            None => dst.copy_from_slice(&body[..body_len]),
        }
        Flight::Frame { first: (c, c + h + body_len), payload: Payload::None, advance: 0, serial: 0 }
    }

    /// A frame of the send operation was written (`whole`) or cut short.
    pub(super) fn frame_written(&mut self, whole: bool, advance: usize) {
        let Some(op) = self.send_op.as_mut() else { return };
        op.started = true;
        if !whole {
            op.finished = true;
            op.cancelled = true;
            self.session.send_broke();
            return;
        }
        op.sent += advance;
        let staged = self.deflate.as_deref().map_or(&[][..], Streams::staged);
        let len = op.payload(rx!(self), staged).len();
        if op.sent >= len || !op.ty.is_data() {
            op.finished = true;
            if op.source == Source::Staged
                && let Some(d) = self.deflate.as_deref_mut()
            {
                d.staged_done();
            }
        }
    }

    /// The payload bytes of the send operation that the frame action in flight carries.
    pub(crate) fn send_flight_advance(&self) -> usize {
        match self.send_flight {
            Some(Flight::Frame { advance, .. }) => advance,
            _ => 0,
        }
    }

    /// The SEND_TO_NETWORK action in flight on the send queue, if any.
    pub(crate) fn send_flight_token(&self) -> Option<ActionContext> {
        match self.send_flight {
            Some(Flight::Frame { serial, .. }) => Some(ActionContext { queue: ActionQueue::Send, serial }),
            _ => None,
        }
    }

    /// The UTF-8 state of outgoing text after the sends accepted so far.
    pub(crate) fn send_utf8_state(&self) -> Utf8Validator {
        self.send_utf8
    }

    /// True when no send operation is queued or in flight.
    pub(crate) fn send_slot_free(&self) -> bool {
        self.send_op.is_none() && self.send_flight.is_none()
    }

    /// The buffers of the SEND_TO_NETWORK action in flight on the send queue.
    pub(crate) fn send_flight_buffers(&self) -> Option<SendBuffers<'_>> {
        match self.send_flight {
            Some(Flight::Frame { first, payload, .. }) => Some(self.frame_buffers(first, payload)),
            _ => None,
        }
    }
}
