/**
 * `/api/openapi.json` and `/api/docs`: the API reference, generated from the
 * route schemas and readable with no internet.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { renderToString } from "preact-render-to-string";
import { asyncApiDocument } from "../http/asyncapi.ts";
import type { AppEnv } from "../http/router.ts";
import { eventDocs, type EventName, eventSchemaIds, eventSchemas } from "../shared/events.ts";

/** The OpenAPI document's title block. */
export const apiInfo = {
  openapi: "3.1.0",
  info: {
    title: "Parley API",
    version: "0.1.0",
    description: "A real-time chat server. Send with POST, receive live over Server-Sent Events. " +
      "Authenticate with `Authorization: Bearer <token>` from register or login, or the session cookie.",
  },
};

interface Operation {
  summary?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<
    string,
    { description?: string; content?: Record<string, { schema?: unknown }> }
  >;
}

/** Serves the OpenAPI 3.1 document and a reference page rendered from it. */
export function mountApiDocs(app: OpenAPIHono<AppEnv>) {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "cookie", {
    type: "apiKey",
    in: "cookie",
    name: "parley_session",
  });
  // The event payloads join the components, so both documents share them.
  for (const name of Object.keys(eventSchemas) as EventName[]) {
    app.openAPIRegistry.register(eventSchemaIds[name], eventSchemas[name]);
  }
  app.doc31("/api/openapi.json", apiInfo);
  app.get("/api/asyncapi.json", (c) => {
    const doc = app.getOpenAPI31Document(apiInfo);
    return c.json(asyncApiDocument(doc.components?.schemas ?? {}));
  });
  app.get("/api/docs", (c) => {
    const doc = app.getOpenAPI31Document(apiInfo);
    return c.html("<!doctype html>" + renderToString(<DocsPage doc={doc} />));
  });
  app.get("/api/docs.css", (c) => c.body(DOCS_CSS, 200, { "content-type": "text/css" }));
}

type Doc = ReturnType<OpenAPIHono["getOpenAPI31Document"]>;

function DocsPage({ doc }: { doc: Doc }) {
  const ops = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    (["get", "post", "put", "patch", "delete"] as const)
      .filter((m) => (item as Record<string, unknown>)[m])
      .map((m) => ({ path, method: m, op: (item as Record<string, Operation>)[m] }))
  );
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{doc.info.title}</title>
        <link rel="stylesheet" href="/api/docs.css" />
      </head>
      <body>
        <h1>{doc.info.title} {doc.info.version}</h1>
        <p>{doc.info.description}</p>
        <p>
          Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1) and{" "}
          <a href="/api/asyncapi.json">/api/asyncapi.json</a> (AsyncAPI 3.0, the event stream).
        </p>
        <nav>
          <ul>
            {ops.map(({ path, method, op }) => (
              <li>
                <a href={`#${method}-${path}`}>
                  <code>{method.toUpperCase()} {path}</code>
                </a>{" "}
                {op.summary}
              </li>
            ))}
          </ul>
        </nav>
        {ops.map(({ path, method, op }) => (
          <OperationSection
            path={path}
            method={method}
            op={op}
          />
        ))}
        <EventsSection />
        <h2>Schemas</h2>
        {Object.entries(doc.components?.schemas ?? {}).map(([name, schema]) => (
          <section id={`schema-${name}`}>
            <h3>{name}</h3>
            <pre>{JSON.stringify(schema, null, 2)}</pre>
          </section>
        ))}
      </body>
    </html>
  );
}

/** The event stream's events beside the routes, from the same schemas. */
function EventsSection() {
  const names = Object.keys(eventSchemas) as EventName[];
  return (
    <section id="events">
      <h2>
        Events on <code>GET /api/events</code>
      </h2>
      <p>
        Server-Sent Events: the <code>event</code> field names the type, <code>data</code>{" "}
        is one line of JSON. Reconnect with <code>Last-Event-ID</code>{" "}
        to resume; replayed events are marked.
      </p>
      <dl>
        {names.map((n) => (
          <>
            <dt id={`event-${n}`}>
              <code>{n}</code>
              {eventDocs[n].replayed ? " (replayed on resume)" : ""}
            </dt>
            <dd>
              {eventDocs[n].summary} Payload:{" "}
              <a href={`#schema-${eventSchemaIds[n]}`}>{eventSchemaIds[n]}</a>
            </dd>
          </>
        ))}
      </dl>
    </section>
  );
}

function OperationSection({ path, method, op }: { path: string; method: string; op: Operation }) {
  const body = op.requestBody?.content?.["application/json"]?.schema;
  return (
    <section id={`${method}-${path}`}>
      <h2>
        <code>{method.toUpperCase()} {path}</code>
      </h2>
      <p>{op.summary}{op.security?.length ? " (signed in)" : ""}</p>
      {op.parameters?.length
        ? (
          <ul>
            {op.parameters.map((p) => (
              <li>
                <code>{p.name}</code> in {p.in}
                {p.required ? " (required)" : ""}: <code>{JSON.stringify(p.schema)}</code>
              </li>
            ))}
          </ul>
        )
        : null}
      {body ? <pre>{JSON.stringify(body, null, 2)}</pre> : null}
      <dl>
        {Object.entries(op.responses ?? {}).map(([status, r]) => (
          <>
            <dt>{status}</dt>
            <dd>
              {r.description}
              {r.content?.["application/json"]?.schema
                ? <code>{" " + JSON.stringify(r.content["application/json"].schema)}</code>
                : null}
            </dd>
          </>
        ))}
      </dl>
    </section>
  );
}

const DOCS_CSS =
  `body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
code,pre{font:13px ui-monospace,monospace}pre{background:#f3f5f8;padding:.75rem;overflow:auto;border-radius:6px}
section{border-top:1px solid #dde2ea;margin-top:1.5rem}dt{font-weight:600}h2 code{font-size:1.05rem}`;
