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

// Name of object `id` of type `type` (mjtObj), or "" when it has none.
const char* meow_mj_name(const mjModel* m, int type, int id) {
  const char* name = mj_id2name(m, type, id);
  return name ? name : "";
}

// First degree of freedom of a hinge or slide joint (one dof each), or -1 for free and ball joints.
int meow_mj_joint_dof(const mjModel* m, int joint) {
  int type = m->jnt_type[joint];
  return type == mjJNT_HINGE || type == mjJNT_SLIDE ? m->jnt_dofadr[joint] : -1;
}

// The joint an actuator drives, or -1 when its transmission is not a joint.
int meow_mj_actuator_joint(const mjModel* m, int actuator) {
  int type = m->actuator_trntype[actuator];
  return type == mjTRN_JOINT || type == mjTRN_JOINTINPARENT ? m->actuator_trnid[2 * actuator] : -1;
}

void meow_mj_data_view_fill(mjData* d, meow_data_view* v) {
  v->abi = MEOW_VIEW_ABI; v->pad = 0;
  v->time = &d->time;
  v->qpos = d->qpos; v->qvel = d->qvel; v->act = d->act; v->ctrl = d->ctrl;
  v->qacc_warmstart = d->qacc_warmstart;
  v->xpos = d->xpos; v->xipos = d->xipos; v->cinert = d->cinert; v->cvel = d->cvel;
  v->qfrc_actuator = d->qfrc_actuator; v->cfrc_ext = d->cfrc_ext;
}
