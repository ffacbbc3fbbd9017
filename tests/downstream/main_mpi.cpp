// A user's MPI program against engram::mpi: one process (a singleton MPI job) holding the
// whole memory as its one shard gives the energies of the plain dense energy, bit for bit.
#include <engram/distributed.hpp>
#include <engram/engram.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int status = 1;
  {
    Eigen::MatrixXf patterns(3, 4);
    patterns << 0, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1;
    const Eigen::MatrixXf queries = patterns.array() + 0.1f;
    engram::distributed::communicator comm(MPI_COMM_WORLD);
    engram::distributed::sharded_memory<float> memory(comm, patterns);
    const engram::distributed::sharded_energy<engram::lse_energy<float>> sharded(memory, 5.f);
    engram::dense_memory<float> whole(patterns);
    const engram::lse_energy<float> plain(whole, 5.f);
    if (comm.size() == 1 && sharded.value(queries) == plain.value(queries)) status = 0;
    std::printf("downstream engram::mpi: %s\n", status == 0 ? "ok" : "energies differ");
  }
  MPI_Finalize();
  return status;
}
