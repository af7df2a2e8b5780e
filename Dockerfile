# Build stage: compile TypeScript, then keep only production dependencies.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The migration linter's binary is an optional dependency for CI, not for the image.
RUN npm run build && npm prune --omit=dev && rm -rf node_modules/@squawk-cli

# Run stage: compiled code, production modules and migrations, as the unprivileged node user.
FROM node:22-bookworm-slim
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0 DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
# Owned by node before anything is mounted there: a new named volume mounted at /data (see
# docker-compose.yml) starts as a copy of this directory, owner included.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# A bounded heap: the collector then runs before memory balloons under load (cached bodies
# live outside the heap). Two malloc arenas instead of one a thread keep native memory compact.
ENV MALLOC_ARENA_MAX=2
CMD ["node", "--max-old-space-size=192", "dist/src/server.js"]
