"""The secret scan every end-to-end test runs over the binary's output.

A secret counts as leaked when the text holds it whole, or any FRAGMENT-character piece of
it (not only aligned ones: a peer may echo a token cut anywhere), or such a piece of its
base64 form at any of the three byte alignments (the form it takes inside an `auth` value
or a Secret's data). Messages describe a secret, never quote it.
"""
import base64

FRAGMENT = 20


def _base64_forms(secret):
    """The base64 text secret turns into inside a longer encoded string, for each of the
    three alignments, without the edge characters the neighbouring bytes decide."""
    raw = secret.encode("utf-8", "surrogateescape")
    forms = []
    for pad in range(3):
        text = base64.b64encode(b"\0" * pad + raw).decode()
        forms.append(text[4:-4])
    return forms


def fragments(secret, size=FRAGMENT):
    """Every size-character piece of secret and of its base64 forms (the whole secret when
    it is shorter)."""
    out = set()
    for form in [secret] + _base64_forms(secret):
        if len(form) < size:
            if form == secret:
                out.add(form)
            continue
        out.update(form[i:i + size] for i in range(len(form) - size + 1))
    return out


def leaks(text, secrets, size=FRAGMENT):
    """Indexes into secrets of those found in text (whole or by a fragment)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    windows = {text[i:i + size] for i in range(max(len(text) - size + 1, 0))}
    found = []
    for index, secret in enumerate(secrets):
        if not secret:
            continue
        if secret in text or (len(secret) >= size and not windows.isdisjoint(fragments(secret, size))):
            found.append(index)
    return found
