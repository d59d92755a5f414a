# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The language of what is written when nobody reads it as it is written: a run, a decision
sent in the background, a cron, a script. It is the language of the person who acted (the
launcher, the decider, else the current user), else their company's: never the server's
English by default, and the labels of selections in the same language as the sentence around
them (never "a accepté le statut Service done")."""

DEFAULT_LANG = "en_US"


def writer_lang(env, user=None, company=None):
    """The language ``user`` writes in (a run's launcher, a push's decider), else ``company``'s
    (its partner's: a scheduled run has no launcher), else the context's, else English."""
    return ((user and user.lang) or (company and company.partner_id.lang)
            or env.lang or DEFAULT_LANG)


def in_writer_lang(records, user=None, company=None):
    """``records`` in the language ``user`` writes in (see :func:`writer_lang`), whatever the
    language of the process at work (the job cron, the retry cron: the server's)."""
    return records.with_context(lang=writer_lang(records.env, user, company))


def sentence_lang(env):
    """The language ``_()`` writes a sentence in: the context's, else (a cron, a script) the
    current user's, else their company's."""
    return env.lang or writer_lang(env, env.user, env.company)


def selection_labels(records, field_name):
    """``{value: label}`` of the selection field ``field_name`` of ``records``, in the language
    of the sentence they are written into (see :func:`sentence_lang`)."""
    env = records.env
    if not env.lang:
        env = env(context=dict(env.context, lang=sentence_lang(env)))
    return dict(records._fields[field_name]._description_selection(env))


def selection_label(records, field_name, value):
    """The label of ``value`` of the selection field ``field_name`` (see
    :func:`selection_labels`); an unknown value is shown as it is."""
    return selection_labels(records, field_name).get(value, value or "?")


def field_labels(records, names):
    """The labels of the fields ``names`` of ``records``, comma-separated, in the language of
    the sentence they are written into (see :func:`sentence_lang`): a refusal that names the
    fields names them as the reader's screen does, never by their English source string."""
    env = records.env
    if not env.lang:
        env = env(context=dict(env.context, lang=sentence_lang(env)))
    return ", ".join(records._fields[name]._description_string(env) for name in names)
