-- CouncilBot storage, version 2: row-level security, so a query that forgot its council cannot
-- read or write another council's records. Every transaction CouncilBot runs first sets
-- councilbot.council to the council it serves; a connection that has not set it sees nothing.
-- FORCE applies the policy to the table's owner too (a superuser still bypasses it: connect as an
-- ordinary role in production).

ALTER TABLE councilbot_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE councilbot_records FORCE ROW LEVEL SECURITY;

CREATE POLICY councilbot_one_council ON councilbot_records
    USING (council = current_setting('councilbot.council', true))
    WITH CHECK (council = current_setting('councilbot.council', true));
