// A facilitator's first calls, typed by the types openapi-typescript generates from the
// served /openapi.json (tests/test_generated_client.py writes them to pentad.d.ts, type-checks
// this file with tsc --strict, then runs it with node against the platform).
import type { components, paths } from "./pentad";

type Json<R> = R extends { content: { "application/json": infer B } } ? B : never;
type Problem = components["schemas"]["Problem"];
type SegmentQuery = NonNullable<paths["/segmentation/segments"]["get"]["parameters"]["query"]>;
type SegmentPage = Json<paths["/segmentation/segments"]["get"]["responses"][200]>;
type Offer = Json<paths["/dmo/segments/{segment_id}/offer"]["get"]["responses"][200]>;
type PackagePage = Json<paths["/integration/packages"]["get"]["responses"][200]>;
type EnquiryIn = paths["/promotion/enquiries"]["post"]["requestBody"]["content"]["application/json"];
type Enquiry = Json<paths["/promotion/enquiries"]["post"]["responses"][201]>;

async function call<T>(base: string, key: string, path: string, init: RequestInit = {}): Promise<T> {
  const answer = await fetch(base + path, {
    ...init,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...init.headers },
  });
  if (!answer.ok) {
    const problem = (await answer.json()) as Problem;
    throw new Error(`${path}: ${problem.status} ${problem.title} ${JSON.stringify(problem.errors ?? [])}`);
  }
  return (await answer.json()) as T;
}

export async function facilitator(base: string, key: string, specialty: string): Promise<string[]> {
  const query = { market: "GB", specialty } satisfies SegmentQuery;
  const segments = await call<SegmentPage>(base, key, `/segmentation/segments?${new URLSearchParams(query)}`);
  const segment = segments.items[0];
  const offer = await call<Offer>(base, key, `/dmo/segments/${segment.id}/offer?currency=GBP`);
  const packages = await call<PackagePage>(base, key, `/integration/packages?specialty=${specialty}&currency=GBP`);
  const prices = packages.items.map((p) => `${p.total.amount} ${p.currency} = ${p.total_in?.amount} GBP`);
  const enquiry: EnquiryIn = {
    specialty,
    source_market: "GB",
    segment_id: segment.id,
    preferred_from: offer.from,
    preferred_to: offer.to,
    languages: ["en"],
    contact: { name: "Margaret Hughes", email: "m.hughes@example.org" },
    consent: { given_at: new Date().toISOString(), scope: ["routing"] },
  };
  const filed = await call<Enquiry>(base, key, "/promotion/enquiries", {
    method: "POST",
    body: JSON.stringify(enquiry),
    headers: { "Idempotency-Key": crypto.randomUUID() },
  });
  return [segment.id, filed.id, filed.status, ...prices];
}

declare const process: { argv: string[]; exitCode?: number }; // node's, without @types/node
const [base, key, specialty] = process.argv.slice(2);
facilitator(base, key, specialty).then(
  (lines) => console.log(JSON.stringify(lines)),
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
