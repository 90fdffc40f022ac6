-- +goose Up
-- Which browser session (OIDC sid) and client a code-issued refresh
-- family belongs to: logout and withdrawn consents end them.
CREATE TABLE grant_links (
    family_id          TEXT   PRIMARY KEY,
    browser_session_id TEXT   NOT NULL,
    client_id          TEXT   NOT NULL,
    user_id            BIGINT NOT NULL,
    auth_time          TIMESTAMPTZ NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX grant_links_session_idx ON grant_links (browser_session_id);
CREATE INDEX grant_links_client_idx ON grant_links (user_id, client_id);
CREATE INDEX grant_links_created_idx ON grant_links (created_at);

-- +goose Down
DROP TABLE grant_links;
