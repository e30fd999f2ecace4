// A tour of the API through the typed client: log in, refresh, walk the product
// list by cursor, create a product safely retryable with an Idempotency-Key, and
// read a problem+json error as a typed value. CI type-checks it with
// `tsc --strict` and runs it against a live server (tests/test_clients.py):
//
//   node dist/examples/tour.js http://127.0.0.1:5000
//
// API_EMAIL and API_PASSWORD name an editor (default: the demo editor of
// `python3 dev.py serve`).
import { randomUUID } from "node:crypto";

import {
  bearer,
  createApiClient,
  type Problem,
  type Product,
  type ProductInput,
} from "../src/index.js";

const baseUrl = process.argv[2] ?? "http://127.0.0.1:5000";
const email = process.env.API_EMAIL ?? "editor@example.com";
const password = process.env.API_PASSWORD ?? "editor-demo-pass";

function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

function describe(problem: Problem): string {
  return `${problem.status} ${problem.code}: ${problem.detail}`;
}

const api = createApiClient(baseUrl);
let accessToken: string | undefined;
api.use(bearer(() => accessToken));

// Log in. `data` is the Token on success and `error` the typed problem otherwise.
const login = await api.POST("/api/auth/login", { body: { email, password } });
if (login.error) {
  throw new Error(`login failed: ${describe(login.error)}`);
}
accessToken = login.data.access_token;
console.log(`logged in; the access token lasts ${login.data.expires_in} s`);

// Refresh: a refresh token works once and comes back replaced.
const refreshed = await api.POST("/api/auth/refresh", {
  body: { refresh_token: login.data.refresh_token },
});
if (refreshed.error) {
  throw new Error(`refresh failed: ${describe(refreshed.error)}`);
}
check(refreshed.data.refresh_token !== login.data.refresh_token, "a new refresh token");
accessToken = refreshed.data.access_token;
const me = await api.GET("/api/auth/me");
check(me.data?.email === email, "the refreshed token is the same user's");
console.log(`refreshed; still ${me.data.email} (${me.data.role})`);

// The product list, two pages by cursor: `cursor: ""` asks for the first page.
// The list answers three shapes (offset page, cursor page, batch); `"next_cursor"
// in meta` tells the cursor page apart.
async function productPage(cursor: string) {
  const listed = await api.GET("/api/products", { params: { query: { cursor, limit: 2 } } });
  if (listed.error) {
    throw new Error(`list failed: ${describe(listed.error)}`);
  }
  const { data, meta } = listed.data;
  check("next_cursor" in meta, "a cursor page");
  return { products: data, next: meta.has_more ? meta.next_cursor : null };
}

const seen: number[] = [];
let cursor: string | null = "";
for (let page = 1; page <= 2 && cursor !== null; page += 1) {
  const { products, next } = await productPage(cursor);
  seen.push(...products.map((product: Product) => product.id));
  console.log(`page ${page}: ${products.map((product: Product) => product.name).join(", ")}`);
  cursor = next;
}
check(new Set(seen).size === seen.length, "no product twice across pages");

// Create a product with an Idempotency-Key: sending the same request again (a
// retry after a timeout, say) replays the first answer and creates nothing more.
const key = randomUUID();
const newProduct: ProductInput = { name: "Brass lamp", price: "49.5", category: "lighting" };
const created = await api.POST("/api/products", {
  params: { header: { "Idempotency-Key": key } },
  body: newProduct,
});
if (created.error) {
  throw new Error(`create failed: ${describe(created.error)}`);
}
check(created.response.status === 201, "201 Created");
check(created.data.price === "49.50", "prices come back with two places");
const retried = await api.POST("/api/products", {
  params: { header: { "Idempotency-Key": key } },
  body: newProduct,
});
check(retried.response.headers.get("Idempotent-Replayed") === "true", "the retry is a replay");
check(retried.data?.id === created.data.id, "the retry names the same product");
console.log(`created product ${created.data.id} once, at ${created.data.price}`);

// A problem+json error is a typed value: `code` is the stable machine name and
// `errors` names each field that failed. Its type lists the codes this operation
// can answer, so a code the API does not send is a compile error:
const refused = await api.POST("/api/products", {
  body: { name: "", price: "cheap", category: "lighting" },
});
check(refused.error !== undefined, "an invalid product is refused");
const problem = refused.error;
// @ts-expect-error -- a misspelt code: "This comparison appears to be unintentional"
check(problem.code !== "VALIDATION_EROR", "never sent");
check(problem.status === 400 && problem.code === "VALIDATION_ERROR", describe(problem));
const fields = Object.keys(problem.errors ?? {}).sort();
check(fields.join(",") === "name,price", `the fields named: ${fields.join(",")}`);
console.log(`refused: ${describe(problem)} (fields: ${fields.join(", ")})`);

console.log("tour complete");
