-- CouncilBot storage, version 1: every record of every council in one table, as JSONB.
-- (council, tbl, id) is the key: a council id, a table name ("reports", "outbox", "events"...)
-- and the record's own id (a reference like R-2026-0042, an event claim key...).

CREATE TABLE councilbot_records (
    council text NOT NULL,
    tbl     text NOT NULL,
    id      text NOT NULL,
    doc     jsonb NOT NULL,
    PRIMARY KEY (council, tbl, id)
);

-- A record's ISO 8601 timestamp (always written with its UTC offset) as a timestamptz, or NULL if
-- the text is not one. Declared IMMUTABLE so expression indexes can use it: true for text that
-- carries its offset, which is the only kind it accepts.
CREATE FUNCTION councilbot_ts(value text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF value !~ '^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d(:?\d\d)?)$' THEN
        RETURN NULL;
    END IF;
    RETURN value::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- Containment (equality on any field, "a list holds X": recipients, excluded).
CREATE INDEX councilbot_records_doc ON councilbot_records USING gin (doc jsonb_path_ops);

-- The fields the core filters on.
CREATE INDEX councilbot_records_status ON councilbot_records (council, tbl, (doc->>'status'));
CREATE INDEX councilbot_records_event ON councilbot_records (council, tbl, (doc->>'event')) WHERE doc ? 'event';
CREATE INDEX councilbot_reports_reporter ON councilbot_records (council, (doc->>'reporter')) WHERE tbl = 'reports';
CREATE INDEX councilbot_suggestions_submitter ON councilbot_records (council, (doc->>'submitter')) WHERE tbl = 'suggestions';
CREATE INDEX councilbot_flags_author ON councilbot_records (council, (doc->>'author')) WHERE tbl = 'flags';
CREATE INDEX councilbot_cards_card ON councilbot_records (council, (doc->>'card')) WHERE tbl = 'cards';
CREATE INDEX councilbot_outbox_to ON councilbot_records (council, (doc->>'to')) WHERE tbl = 'outbox';
CREATE INDEX councilbot_id_prefix ON councilbot_records (council, tbl, id text_pattern_ops);

-- What the outbox workers poll: pending items per platform by due time.
CREATE INDEX councilbot_outbox_due ON councilbot_records
    (council, (doc->>'platform'), councilbot_ts(doc->>'next_at'))
    WHERE tbl = 'outbox' AND doc->>'status' = 'pending';
