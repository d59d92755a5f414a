# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Large PES files into Odoo's filestore without holding them in memory.

A PES file with its attachments easily weighs 100 MB or more. It is streamed to a temporary file
in the filestore's own folder while its SHA-1 is computed, then renamed to the place Odoo's
filestore gives that content (``<sha[:2]>/<sha>``) and attached: the bytes are never all in
Python memory. When the database keeps attachments itself (``ir_attachment.location`` = db),
there is no way around reading the file once.
"""

import contextlib
import hashlib
import os
import tempfile

from odoo import models

TEMP_FOLDER = "chorus_pro_tmp"


class HashingWriter:
    """A write-only binary file object: writes to ``out`` and computes SHA-1 and size."""

    def __init__(self, out):
        self.out = out
        self.sha1 = hashlib.sha1()
        self.size = 0

    def write(self, data):
        self.sha1.update(data)
        self.size += len(data)
        return self.out.write(data)

    def flush(self):
        self.out.flush()


@contextlib.contextmanager
def temporary_path(env, suffix=".xml"):
    """The path of a new empty temporary file next to the filestore (same file system: it can
    be renamed into it). Removed at the end unless :func:`attach_file` consumed it."""
    folder = os.path.join(env["ir.attachment"]._filestore(), TEMP_FOLDER)
    os.makedirs(folder, exist_ok=True)
    descriptor, path = tempfile.mkstemp(prefix="pes-", suffix=suffix, dir=folder)
    os.close(descriptor)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def attach_file(env, path, writer, *, name, res_model, res_id, mimetype="application/xml",
                description=False):
    """Attach the finished temporary file ``path`` (written through ``writer``) to a record;
    the temporary file is consumed. Returns the ``ir.attachment`` (sudo)."""
    Attachment = env["ir.attachment"].sudo()
    values = {"name": name, "res_model": res_model, "res_id": res_id, "type": "binary",
              "mimetype": mimetype, "description": description}
    if Attachment._storage() != "file":
        with open(path, "rb") as handle:
            raw = handle.read()
        os.unlink(path)
        return Attachment.create(dict(values, raw=raw))
    checksum = writer.sha1.hexdigest()
    fname = f"{checksum[:2]}/{checksum}"
    full_path = Attachment._full_path(fname)
    os.makedirs(os.path.dirname(full_path), exist_ok=True)
    if os.path.exists(full_path):
        os.unlink(path)  # the same bytes are already in the filestore
    else:
        os.replace(path, full_path)
    # If this transaction is rolled back, the filestore's garbage collection removes the file.
    Attachment._mark_for_gc(fname)
    attachment = Attachment.create(values)
    # ir.attachment's own write computes these from bytes in memory: set them directly.
    models.BaseModel.write(attachment, {
        "store_fname": fname, "checksum": checksum, "file_size": writer.size,
    })
    return attachment


def attachment_path(attachment):
    """The file of an attachment on disk, or None when the database holds its bytes."""
    attachment = attachment.sudo()
    if attachment.store_fname:
        return attachment._full_path(attachment.store_fname)
    return None
