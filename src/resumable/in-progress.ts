/**
 * GET /uploads: an owner's resumable uploads still receiving bytes, newest first. Their ids come
 * from the owner's object (the places they hold), each upload's state from its own object.
 */
import { z } from "zod";
import { JobId, type UploadState } from "../base/contracts";
import { JobView } from "../http/job-view";
import { ownerStub, uploadStub } from "../objects";

export const UploadListQuery = z.object({
	limit: z.coerce.number().int().min(1).max(50).default(20),
	cursor: JobId.optional().describe("nextCursor of the page before, as given"),
});
export type UploadListQuery = z.infer<typeof UploadListQuery>;

export const UploadPage = z.object({ items: z.array(JobView), nextCursor: z.string().nullable() }).meta({ id: "UploadPage" });

/** A page of the owner's uploads in progress, and the cursor of the next (null on the last). */
export async function uploadsInProgress(
	env: Env,
	ownerId: string,
	{ limit, cursor }: UploadListQuery,
): Promise<{ items: UploadState[]; nextCursor: string | null }> {
	// One more than asked for says whether a page follows.
	const ids = await ownerStub(env, ownerId).uploadsInProgress(limit + 1, cursor ?? null);
	const page = ids.slice(0, limit);
	const states = await Promise.all(page.map((id) => uploadStub(env, id).get()));
	// A place whose upload has just finished or gone is not listed (its release is on its way).
	const items = states.filter((u): u is UploadState => u?.status === "receiving" && u.ownerId === ownerId);
	return { items, nextCursor: ids.length > limit ? page[page.length - 1]! : null };
}
