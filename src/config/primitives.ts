import { z } from 'zod';

/** A TCP port; 0 picks a free one (for tests). */
export const port = z.number().int().min(0).max(65535);

/** An integer of at least 1. */
export const positiveInt = z.number().int().min(1);

/** A URL path prefix. */
export const pathPrefix = z.string().startsWith('/', 'must start with "/"');
