// A thin accessor over libmujoco, compiled against the installed headers at build time (see MeowRobot.Tasks.csproj).
// It hands C# a flat "view" of the mjModel/mjData fields the tasks use, so that no struct layout is mirrored by hand:
// if the library's layout changes, this file is recompiled against the new headers, and a header/library version
// mismatch is refused at load (meow_mj_check).
#include <mujoco/mujoco.h>
#include <stdint.h>

#define MEOW_VIEW_ABI 1

typedef struct {
  int32_t abi, nq, nv, nu, na, nbody, ngeom, njnt;
  mjtNum* timestep;
  mjtNum* qpos0;
  mjtNum* body_mass;           // nbody
  mjtNum* body_inertia;        // nbody x 3
  mjtNum* geom_friction;       // ngeom x 3
  mjtNum* actuator_gear;       // nu x 6
  mjtNum* actuator_ctrlrange;  // nu x 2
  mjtByte* actuator_ctrllimited;
  mjtNum* dof_damping;         // nv
} meow_model_view;

typedef struct {
  int32_t abi, pad;
  mjtNum* time;
  mjtNum* qpos;
  mjtNum* qvel;
  mjtNum* act;
  mjtNum* ctrl;
  mjtNum* qacc_warmstart;
  mjtNum* xpos;           // nbody x 3
  mjtNum* xipos;          // nbody x 3
  mjtNum* cinert;         // nbody x 10
  mjtNum* cvel;           // nbody x 6
  mjtNum* qfrc_actuator;  // nv
  mjtNum* cfrc_ext;       // nbody x 6
} meow_data_view;

// 0 when the loaded library is the one these headers describe; otherwise the library's version.
int meow_mj_check(void) {
  if (sizeof(mjtNum) != 8) return -1;
  return mj_version() == mjVERSION_HEADER ? 0 : mj_version();
}
int meow_mj_abi(void) { return MEOW_VIEW_ABI; }
int meow_mj_model_view_size(void) { return (int)sizeof(meow_model_view); }
int meow_mj_data_view_size(void) { return (int)sizeof(meow_data_view); }

void meow_mj_model_view_fill(mjModel* m, meow_model_view* v) {
  v->abi = MEOW_VIEW_ABI;
  v->nq = m->nq; v->nv = m->nv; v->nu = m->nu; v->na = m->na;
  v->nbody = m->nbody; v->ngeom = m->ngeom; v->njnt = m->njnt;
  v->timestep = &m->opt.timestep;
  v->qpos0 = m->qpos0;
  v->body_mass = m->body_mass;
  v->body_inertia = m->body_inertia;
  v->geom_friction = m->geom_friction;
  v->actuator_gear = m->actuator_gear;
  v->actuator_ctrlrange = m->actuator_ctrlrange;
  v->actuator_ctrllimited = m->actuator_ctrllimited;
  v->dof_damping = m->dof_damping;
}

void meow_mj_data_view_fill(mjData* d, meow_data_view* v) {
  v->abi = MEOW_VIEW_ABI; v->pad = 0;
  v->time = &d->time;
  v->qpos = d->qpos; v->qvel = d->qvel; v->act = d->act; v->ctrl = d->ctrl;
  v->qacc_warmstart = d->qacc_warmstart;
  v->xpos = d->xpos; v->xipos = d->xipos; v->cinert = d->cinert; v->cvel = d->cvel;
  v->qfrc_actuator = d->qfrc_actuator; v->cfrc_ext = d->cfrc_ext;
}
